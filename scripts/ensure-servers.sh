#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ run locally and know Fengqiao: install them from Debian's
# packages when missing, start them when stopped, then create the database role and the
# RabbitMQ vhosts; and that nginx is there for the gateway. Safe to run again and again.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_apt_update=1
apt_install() {
  if [ "$need_apt_update" = 1 ]; then as_root apt-get update -qq; need_apt_update=0; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL -------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "installing PostgreSQL…"; apt_install postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL…"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
# cd /: the postgres user may not read the caller's working directory
psql_admin() { (cd / && as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtAX "$@"); }
# Each service process pools up to 12 connections; two replicas of five services (the end-to-end
# suite's second pass) need more than PostgreSQL's default 100.
if [ "$(psql_admin -c "SHOW max_connections")" -lt 300 ]; then
  echo "raising PostgreSQL's max_connections to 300 (a restart)…"
  psql_admin -c "ALTER SYSTEM SET max_connections = 300"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main restart
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'fengqiao'")" != 1 ]; then
  echo "creating database role fengqiao…"
  psql_admin -c "CREATE ROLE fengqiao LOGIN CREATEDB PASSWORD 'fengqiao'"
fi

# --- RabbitMQ ---------------------------------------------------------------------------
if ! command -v rabbitmqctl >/dev/null 2>&1; then
  echo "installing RabbitMQ…"; apt_install rabbitmq-server
fi
if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
  echo "starting RabbitMQ…"
  # Every quorum queue holds file handles; with the usual soft limit of 1024 a broker with a few
  # hundred queues stops accepting connections. Start it with the hard limit.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  as_root rabbitmq-server -detached || true
fi
# -detached returns before the node has registered with epmd, and await_startup fails at once
# ("node 'rabbit' not running at all") until it has: retry, then ask once more for diagnostics.
for _ in $(seq 1 90); do
  as_root rabbitmqctl -q await_startup --timeout 90 >/dev/null 2>&1 && break
  sleep 1
done
as_root rabbitmqctl -q await_startup --timeout 90 >/dev/null
# --fresh-vhost NAME (make test): that vhost starts empty, so queues an interrupted run left
# behind never pile up (a few hundred quorum queues exhaust the broker's file handles).
vhosts="fengqiao fengqiao_test fengqiao_bench"
if [ "${1:-}" = "--fresh-vhost" ] && [ -n "${2:-}" ]; then
  as_root rabbitmqctl -q delete_vhost "$2" >/dev/null 2>&1 || true
  vhosts="$vhosts $2"
fi
for vhost in $vhosts; do
  as_root rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 || true
  as_root rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
done
# --- the gateway -------------------------------------------------------------------------
# nginx in front of the services (`make run` starts it as a process of its own on :8080, with
# deploy/gateway/nginx.conf): only the binary is needed; a system nginx the package may start
# is left alone (it listens on :80).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx…"; apt_install --no-install-recommends nginx-light
fi
echo "PostgreSQL, RabbitMQ and nginx are ready."
