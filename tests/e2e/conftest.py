"""All five services as real processes (`python -m fengqiao.runner`), as `make run` starts
them, against the test databases and vhost."""
import collections
import os
import shutil
import time
import uuid

import pytest
import requests
import yaml

from fengqiao import auth, config, db, launcher, messaging
from fengqiao.cli import main as cli
from fengqiao.runner import service_class
from tests.support import standins

LOG_DIR = config.REPO_ROOT / "run" / "test-logs"


@pytest.fixture
def e2e_env():
    """Empty databases (a prefix of their own) and empty queues for each test."""
    prefix = f"fqe2e{uuid.uuid4().hex[:6]}"
    os.environ["FENGQIAO_DB_PREFIX"] = prefix
    s = config.settings("intake")
    with messaging.connect(s.amqp_uri) as conn:
        for name in config.SERVICES:
            for queue, _ in messaging.handlers_of(service_class(name)):
                conn.default_channel.queue_delete(queue)
                conn.default_channel.queue_delete(f"{queue}.dead")
    yield prefix
    for name in config.SERVICES:
        db.drop_database(s.admin_database_url, f"{prefix}_{name}")


class Stack:
    """The services as processes, `replicas` of each (a second replica listens on port + 100).
    `url(name)` takes turns among a service's replicas, so requests reach all of them."""

    def __init__(self, replicas=1):
        self.replicas = replicas
        self.processes = {}
        self._turn = collections.Counter()
        LOG_DIR.mkdir(parents=True, exist_ok=True)

    def url(self, name, replica=None):
        if replica is None:
            replica, self._turn[name] = self._turn[name] % self.replicas, self._turn[name] + 1
        return f"http://127.0.0.1:{launcher.port_of(name) + 100 * replica}"

    def start(self, *names):
        for name in names:
            log = open(LOG_DIR / f"{name}.log", "ab")
            self.processes[name] = [launcher.start(name, log_file=log, replica=r) for r in range(self.replicas)]
        for name in names:
            for replica, process in enumerate(self.processes[name]):
                launcher.wait_ready(f"{self.url(name, replica)}/health/ready", process)

    def kill(self, name):
        """SIGKILL every replica: no shutdown, no goodbye to the broker or the database."""
        for process in self.processes[name]:
            process.kill()
            process.wait()

    def stop(self):
        launcher.stop([p for replicas in self.processes.values() for p in replicas])
        self.processes.clear()


@pytest.fixture
def channels(tmp_path, monkeypatch):
    """An SMTP server and an SMS provider standing in for the county's (processes of their own),
    and a notify file pointing at them; the services started after this use it."""
    processes, outs = [], {}
    for kind in ("smtp", "sms"):
        outs[kind] = tmp_path / f"{kind}.jsonl"
        processes.append(standins.launch("smtp" if kind == "smtp" else "http", outs[kind]))
    shutil.copytree(config.REPO_ROOT / "deploy/county/messages", tmp_path / "messages")
    raw = yaml.safe_load((config.REPO_ROOT / "deploy/county/notify.yaml").read_text(encoding="utf-8"))
    raw["channels"] = {"email": {"host": "127.0.0.1", "port": processes[0][1], "sender": "noreply@songhe.example"},
                       "sms": {"url": f"http://127.0.0.1:{processes[1][1]}/v1/sms", "key_env": "FENGQIAO_SMS_API_KEY"}}
    raw["quiet_hours"] = {"from": "00:00", "to": "00:01"}  # the tests run by day and by night
    (tmp_path / "notify.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_NOTIFY_FILE", str(tmp_path / "notify.yaml"))
    monkeypatch.setenv("FENGQIAO_SMS_API_KEY", "e2e-sms-key")
    yield {kind: (lambda out=out: standins.accepted(out)) for kind, out in outs.items()}
    for process, _ in processes:
        process.terminate()
        process.wait()


def _stack(channels, replicas):
    cli(["setup"])  # databases, migrations and every queue, as deployment does before starting
    s = Stack(replicas)
    s.channels = channels
    return s


@pytest.fixture(params=[1, 2], ids=["1-replica", "2-replicas"])
def stack(request, e2e_env, channels):
    """The suite runs with one replica of every service, then again with two (competing
    consumers, timers racing, requests taking turns)."""
    s = _stack(channels, request.param)
    yield s
    s.stop()


@pytest.fixture
def single_stack(e2e_env, channels):
    """One replica of each: for tests of the topology itself (ports, gateway, launcher)."""
    s = _stack(channels, 1)
    yield s
    s.stop()


@pytest.fixture
def headers():
    s = config.settings("intake")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "e2e", ["clerk"], "SH")}


def eventually(fetch, check, timeout=15):
    """Poll until check(fetch()) holds; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s; last value: {value}")
        time.sleep(0.1)


def get_json(url, headers):
    r = requests.get(url, headers=headers, timeout=5)
    return r.json() if r.status_code == 200 else {"status_code": r.status_code}
