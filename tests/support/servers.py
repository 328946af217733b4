"""Restart the machine's RabbitMQ and PostgreSQL, as scripts/ensure-servers.sh runs them, for the
fault tests: the services must ride out both."""
import os
import subprocess
import time
from pathlib import Path

from fengqiao.config import REPO_ROOT


def _as_root(*command, check=True):
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True)


def ensure_running():
    """Both servers up again, whatever a failed restart left behind (ensure-servers.sh starts them)."""
    subprocess.run([REPO_ROOT / "scripts" / "ensure-servers.sh"], check=True, capture_output=True)


def restart_rabbitmq():
    """Stop the broker node and start it again (its quorum queues come back from disk)."""
    _as_root("rabbitmqctl", "-q", "shutdown")
    # As ensure-servers.sh: the hard file limit, or a broker with many queues refuses connections.
    _as_root("bash", "-c", 'ulimit -n "$(ulimit -Hn)"; rabbitmq-server -detached')
    deadline = time.monotonic() + 90
    while _as_root("rabbitmqctl", "-q", "await_startup", "--timeout", "60", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError("RabbitMQ did not come back within 90 s")
        time.sleep(1)


def restart_postgresql():
    """A fast restart: every client connection is cut, as when the database fails over."""
    version = max((p.name for p in Path("/etc/postgresql").iterdir()), key=lambda v: [int(x) for x in v.split(".")])
    _as_root("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast")
    deadline = time.monotonic() + 60
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError("PostgreSQL did not come back within 60 s")
        time.sleep(0.5)
