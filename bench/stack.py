"""The Fengqiao services as the benchmarks run them, and the machine they run on: the vhost
fengqiao_bench, databases fqbench<random>_* and ports from 19001, set up by `fengqiao.cli
setup` in a process of its own, every service started as `replicas` processes, and the
queues and databases removed at the end (bench/README.md).

The benchmark processes never import fengqiao.runner or fengqiao.green, which monkey-patch
with eventlet: they measure the services, not their own green scheduling."""
import contextlib
import importlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from urllib.parse import urlparse

import psycopg
import requests
from kombu import Connection

import measure
from fengqiao import auth, config, db, launcher

AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/fengqiao_bench"
VHOST = urlparse(AMQP_URI).path.lstrip("/")
# Away from `make run` (8001…) and the end-to-end tests (18001…, their replicas 18101…);
# replica k of a service listens 100 * k above it (fengqiao.launcher): 19101… for the second.
FIRST_PORT = 19001


def progress(text):
    print(text, file=sys.stderr, flush=True)


def bench_environment(prefix):
    """What the services, `fengqiao.cli setup` and fengqiao.config read: set before any use."""
    env = {"FENGQIAO_AMQP_URI": AMQP_URI, "FENGQIAO_DB_PREFIX": prefix}
    for offset, name in enumerate(config.SERVICES):
        env[f"FENGQIAO_{name.upper()}_PORT"] = str(FIRST_PORT + offset)
    return env


def port_of(name, replica=0):
    return launcher.port_of(name) + 100 * replica  # as launcher.start places replica k


def assert_plain_process():
    """A monkey-patched client would measure its own green scheduling, not the services."""
    if "fengqiao.runner" in sys.modules or "fengqiao.green" in sys.modules:
        raise RuntimeError("the benchmark process imported fengqiao.runner or fengqiao.green")
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("socket"):
        raise RuntimeError("the benchmark process is monkey-patched by eventlet")


def clerk_token(who):
    """A clerk's bearer token; `who` is the window, and the services limit writes per token."""
    s = config.settings("intake")
    return auth.issue(s.jwt_secret, s.jwt_audience, who, ["clerk"], "SH")


def http_clients(urls):
    """A requests.Session per client thread — a window with its own clerk's token — posting
    registrations; the threads take the intake replicas in turn."""
    windows = iter(range(1_000_000))

    def make_worker():
        window = next(windows)
        url = urls[window % len(urls)]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {clerk_token(f'bench-window-{window}')}"

        def register(i):
            r = session.post(url, json=measure.registration(i), timeout=30)
            if r.status_code != 201:
                raise RuntimeError(f"POST /cases answered {r.status_code}: {r.text[:200]}")
            return r.json()["number"]

        return register, session.close
    return make_worker



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


def machine_line(facts):
    """The machine and code measured, as one markdown paragraph."""
    return (f"Machine: {facts['nproc']} vCPU ({facts['cpu']}), {facts['memory_gb']:.0f} GB RAM;"
            f" PostgreSQL {facts['postgres']}, RabbitMQ {facts['rabbitmq']}, Python {facts['python']};"
            f" broker, database, services and load client on the same machine"
            f" (1-minute load average at start: {facts['load']:.2f}). Code: {facts['code']}.")


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


def start_services(log_dir, replicas=1):
    """{service: [process of each replica]}, every one answering /health/ready."""
    processes = {name: [] for name in config.SERVICES}
    try:
        for name in config.SERVICES:
            for k in range(replicas):
                log = open(os.path.join(log_dir, f"{name}-{k}.log"), "ab")
                processes[name].append(launcher.start(name, log_file=log, replica=k))
        for name, replicas_of_name in processes.items():
            for k, process in enumerate(replicas_of_name):
                launcher.wait_ready(f"http://127.0.0.1:{port_of(name, k)}/health/ready", process)
    except BaseException:
        launcher.stop(all_processes(processes))
        raise
    return processes


def all_processes(processes):
    return [p for replicas in processes.values() for p in replicas]


def refuse_if_taken(replicas):
    """Benchmarks share the vhost and the ports: a second one would delete the first one's
    queues, and its own services, failing to listen, would leave it measuring the first's."""
    for name in config.SERVICES:
        for k in range(replicas):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port_of(name, k))) == 0:
                    raise SystemExit(f"port {port_of(name, k)} ({name}) is taken: is another benchmark running?")


@contextlib.contextmanager
def running_services(prefix, replicas=1):
    """Set up the prefix's databases and the vhost's queues, run the services, and remove all
    of it afterwards. Yields {service: [process of each replica]}."""
    refuse_if_taken(replicas)
    # Stopped by `timeout` or kill, clean up as on Ctrl-C: the services run in sessions of their
    # own and would outlive us, holding the ports and consuming the next run's events.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    log_dir = tempfile.mkdtemp(prefix=f"{prefix}-logs-")
    progress(f"services: setting up {prefix}_* and starting {replicas} process(es) each (logs in {log_dir})")
    processes = {}
    try:
        delete_service_queues()  # a crashed earlier run may have left messages behind
        subprocess.run([sys.executable, "-m", "fengqiao.cli", "setup"], cwd=config.REPO_ROOT,
                       check=True, stdout=subprocess.DEVNULL)  # a process of its own: the CLI patches
        processes = start_services(log_dir, replicas)
        assert_plain_process()
        yield processes
    finally:
        launcher.stop(all_processes(processes))
        try:
            delete_service_queues()
        finally:  # the databases go even when the broker is unreachable
            drop_service_databases(prefix)


def read_model():
    """Reporting's database, where the benchmarks see cases arrive."""
    return measure.ReadModel(config.settings("reporting").database_url)


# --- backlogs --------------------------------------------------------------------------------

def queue_depths():
    """{queue: ready + unacknowledged messages} of every queue in the bench vhost, dead-letter
    queues included. rabbitmqctl: a passive declare would show the ready messages only."""
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl not found: install rabbitmq-server's tools, run as root or in the rabbitmq group")
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", VHOST, "--no-table-headers",
                          "name", "messages_ready", "messages_unacknowledged"],
                         capture_output=True, text=True, check=True).stdout
    return {name: int(ready) + int(unacked)
            for name, ready, unacked in (line.split() for line in out.splitlines() if line.strip())}


def outbox_backlogs():
    """{service: outbox rows not yet published}."""
    backlog = {}
    for name in config.SERVICES:
        with psycopg.connect(config.settings(name).database_url) as conn:
            backlog[name] = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
    return backlog
