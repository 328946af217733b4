"""End-to-end throughput and latency of the Fengqiao case flow, beside a raw kombu + psycopg
baseline doing the same durable work on the same machine (bench/README.md).

This is a plain Python process: it never imports fengqiao.runner or fengqiao.green, which
monkey-patch with eventlet. The services run as processes of their own (fengqiao.launcher),
in the vhost fengqiao_bench, on databases and ports of their own; its queues and databases
are removed at the end."""
import argparse
import importlib
import os
import platform
import re
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime
from urllib.parse import urlparse

import psycopg
import requests
from kombu import Connection

import measure
import raw_baseline
from fengqiao import auth, config, db, launcher

AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/fengqiao_bench"
FIRST_PORT = 19001  # away from `make run` (8001…) and the end-to-end tests (18001…)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=2000, help="cases registered per run (default 2000)")
    p.add_argument("--concurrency", type=int, default=10, help="client threads posting at once (default 10)")
    p.add_argument("--warmup", type=int, default=50,
                   help="cases run through the whole chain first and not counted (default 50)")
    p.add_argument("--workers", type=int, default=10,
                   help="baseline: consumer threads per stage and producer database connections;"
                        " the services' max_workers is 10 (default 10)")
    p.add_argument("--poll-ms", type=float, default=50,
                   help="read-model polling interval in ms; latencies round up by as much (default 50)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for every case (default 300)")
    p.add_argument("--only", choices=("services", "baseline"), help="run one side only (no ratio then)")
    return p.parse_args(argv)


def bench_environment(prefix):
    """What the services, `fengqiao.cli setup` and fengqiao.config read: set before any use."""
    env = {"FENGQIAO_AMQP_URI": AMQP_URI, "FENGQIAO_DB_PREFIX": prefix}
    for offset, name in enumerate(config.SERVICES):
        env[f"FENGQIAO_{name.upper()}_PORT"] = str(FIRST_PORT + offset)
    return env


def assert_plain_process():
    """A monkey-patched client would measure its own green scheduling, not the services."""
    if "fengqiao.runner" in sys.modules or "fengqiao.green" in sys.modules:
        raise RuntimeError("the benchmark process imported fengqiao.runner or fengqiao.green")
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("socket"):
        raise RuntimeError("the benchmark process is monkey-patched by eventlet")


def progress(text):
    print(text, file=sys.stderr, flush=True)


# --- machine facts ---------------------------------------------------------------------------

def machine_facts():
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor() or "unknown")
    with psycopg.connect(config.settings("intake").admin_database_url) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    with Connection(AMQP_URI) as conn:
        conn.connect()
        rabbitmq = conn.connection.server_properties.get("version", "?")
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": memory_gb, "postgres": postgres,
            "rabbitmq": rabbitmq, "python": platform.python_version(), "load": os.getloadavg()[0],
            "code": code_version()}


def code_version():
    """The commit measured, and which tracked files differed from it (read-only git calls)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=config.REPO_ROOT, capture_output=True, text=True).stdout.split()
    commit, changed = git("rev-parse", "--short", "HEAD"), git("diff", "--name-only", "HEAD")
    if not commit:
        return "unknown"
    return commit[0] + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def listener_pid(url):
    """The process listening on the port of `url` on this machine, if `ss` can tell."""
    port = urlparse(url).port
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    match = re.search(r"pid=(\d+)", out)
    return int(match.group(1)) if match else None


def server_cpu_groups():
    """RabbitMQ and PostgreSQL for the CPU accounting: whatever else uses them is in it too."""
    groups = {}
    if broker := listener_pid(AMQP_URI):
        groups["RabbitMQ"] = lambda: [broker]
    if postmaster := listener_pid(config.settings("intake").admin_database_url):
        groups["PostgreSQL"] = lambda: [postmaster, *measure.children_of(postmaster)]
    return groups


# --- the services ----------------------------------------------------------------------------

def service_queues():
    """Every queue the services consume from, found as the end-to-end tests find them."""
    from fengqiao import messaging  # brings nameko and eventlet along, imported but not patched

    queues = []
    for name in config.SERVICES:
        module = importlib.import_module(f"services.{name}.service")
        service_classes = [cls for cls in vars(module).values()
                           if isinstance(cls, type) and cls.__module__ == module.__name__]
        for cls in service_classes:
            if getattr(cls, "name", None) == name:
                queues += [queue for queue, _ in messaging.handlers_of(cls)]
    return queues


def delete_service_queues():
    with Connection(AMQP_URI) as conn:
        for queue in service_queues():
            conn.default_channel.queue_delete(queue)
            conn.default_channel.queue_delete(f"{queue}.dead")


def drop_service_databases(prefix):
    admin = config.settings("intake").admin_database_url
    for name in config.SERVICES:
        db.drop_database(admin, f"{prefix}_{name}")


def start_services(log_dir):
    processes = {}
    try:
        for name in config.SERVICES:
            processes[name] = launcher.start(name, log_file=open(os.path.join(log_dir, f"{name}.log"), "ab"))
        for name, process in processes.items():
            launcher.wait_ready(f"http://127.0.0.1:{launcher.port_of(name)}/health/ready", process)
    except BaseException:
        launcher.stop(list(processes.values()))
        raise
    return processes


def http_clients(url, issue):
    """A requests.Session per client thread — a window with its own clerk's token — posting
    registrations."""
    windows = iter(range(1_000_000))

    def make_worker():
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {issue(f'bench-window-{next(windows)}')}"

        def register(i):
            r = session.post(url, json=measure.registration(i), timeout=30)
            if r.status_code != 201:
                raise RuntimeError(f"POST /cases answered {r.status_code}: {r.text[:200]}")
            return r.json()["number"]

        return register, session.close
    return make_worker


def run_services(args, prefix):
    log_dir = tempfile.mkdtemp(prefix=f"{prefix}-logs-")
    progress(f"services: setting up {prefix}_* and starting them (logs in {log_dir})")
    processes = {}
    try:
        delete_service_queues()  # a crashed earlier run may have left messages behind
        subprocess.run([sys.executable, "-m", "fengqiao.cli", "setup"], cwd=config.REPO_ROOT,
                       check=True, stdout=subprocess.DEVNULL)  # a process of its own: the CLI patches
        processes = start_services(log_dir)
        s = config.settings("intake")
        url = f"http://127.0.0.1:{launcher.port_of('intake')}/cases"
        assert_plain_process()
        progress(f"services: {args.warmup} warm-up + {args.cases} cases at concurrency {args.concurrency}")
        return measure.measure(
            "Fengqiao services (5 nameko processes, HTTP in)", args.cases, args.concurrency,
            http_clients(url, lambda who: auth.issue(s.jwt_secret, s.jwt_audience, who, ["clerk"], "SH")),
            measure.ReadModel(config.settings("reporting").database_url),
            args.poll_ms / 1000, args.timeout, args.warmup,
            cpu_groups={**measure.single_processes({n: p.pid for n, p in processes.items()}),
                        **server_cpu_groups()},
            self_label="HTTP load client")
    finally:
        launcher.stop(list(processes.values()))
        delete_service_queues()
        drop_service_databases(prefix)


# --- the baseline ----------------------------------------------------------------------------

def run_baseline(args, prefix):
    admin = config.settings("intake").admin_database_url
    name = f"{prefix}_raw"
    db.ensure_database(admin, name)
    try:
        assert_plain_process()
        progress(f"baseline: {args.warmup} warm-up + {args.cases} cases at concurrency {args.concurrency}")
        return raw_baseline.run(args, f"{admin.rsplit('/', 1)[0]}/{name}", AMQP_URI, server_cpu_groups())
    finally:
        db.drop_database(admin, name)


# --- the report ------------------------------------------------------------------------------

def report(facts, results, argv):
    command = " ".join([".venv/bin/python", "bench/e2e_throughput.py", *argv])
    lines = [
        "",
        f"#### End-to-end throughput, {datetime.now().strftime('%Y-%m-%d')} (`{command}`)",
        "",
        f"Machine: {facts['nproc']} vCPU ({facts['cpu']}), {facts['memory_gb']:.0f} GB RAM;"
        f" PostgreSQL {facts['postgres']}, RabbitMQ {facts['rabbitmq']}, Python {facts['python']};"
        f" broker, database, services and load client on the same machine"
        f" (1-minute load average at start: {facts['load']:.2f}). Code: {facts['code']}.",
        "",
        "| Run | Cases | Concurrency | Registrations/s | Cases assigned/s | p50 latency (ms) |"
        " p99 latency (ms) | All 3 events recorded (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.label} | {r.cases} | {r.concurrency} | {r.registrations_per_s:.0f} |"
                     f" {r.cases_per_s:.0f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | {r.chain_s:.1f} |")
    lines += ["", "CPU time per case over the measured window (ms), by process (RabbitMQ and PostgreSQL"
              " include anyone else using them); machine busy is the share of all cores in use:", ""]
    lines += [f"- {r.label}: " + ", ".join(f"{k} {v:.1f}" for k, v in r.cpu_ms_per_case.items())
              + f"; machine busy {100 * r.machine_busy:.0f}% of {facts['nproc']} cores" for r in results]
    if len(results) == 2:
        ratio = results[0].cases_per_s / results[1].cases_per_s
        lines += ["", f"Services / baseline throughput: **{ratio:.2f}**"]
    lines += [f"\n{r.label}: {r.errors} failed registration(s), first: {r.first_error}"
              for r in results if r.errors]
    lines += [f"\n{r.label}: {r.missing} case(s) never seen assigned" for r in results if r.missing]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    prefix = f"fqbench{uuid.uuid4().hex[:6]}"
    os.environ.update(bench_environment(prefix))
    facts = machine_facts()
    results = []
    if args.only != "baseline":
        results.append(run_services(args, prefix))
    if args.only != "services":
        results.append(run_baseline(args, prefix))
    print(report(facts, results, argv))
    return 1 if any(r.errors or r.missing for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
