"""SPEC 2.3 under fire: while cases are registered at a steady rate, every service is killed
(SIGKILL, no goodbye) and restarted in turn, then RabbitMQ and PostgreSQL are restarted. After
the dust settles every case is in reporting exactly once with every event of its chain, no
notification went out twice, and no outbox row or dead letter is left over."""
import collections
import email
import email.policy
import json
import os
import threading
import time
import uuid

import psycopg
import pytest
import requests
import yaml
from psycopg.rows import dict_row

from fengqiao import config, messaging
from fengqiao.runner import service_class
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually
from tests.support import servers

# A neighbour dispute runs through every service: routing assigns it to the village mediation
# committee, mediation opens a file and signs for it, notify tells the committee and the
# petitioner. Each of these happens once per case, whatever was restarted meanwhile.
ONCE_PER_CASE = ["case.registered", "case.assigned", "mediation.opened", "case.signed", "case.accepted"]
RATE_PER_SECOND = 8


class SteadyRegistrations(threading.Thread):
    """Registers a case every 1/RATE seconds, as a window would: each with an Idempotency-Key,
    retried with the same key until the service answers (down, restarting, database gone),
    so a registration is never lost and never made twice."""

    def __init__(self, url, headers):
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.numbers, self.refused = [], []
        self.stopping = threading.Event()

    def run(self):
        i = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            self._register(i)
            i += 1
            self.stopping.wait(max(0.0, 1 / RATE_PER_SECOND - (time.monotonic() - started)))

    def _register(self, i):
        body = {**REGISTRATION_EXAMPLE, "subject": f"邻里纠纷 {i}",
                "petitioners": [{"name": f"村民{i}", "phone": f"139{i:08d}"}]}
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up:
            try:
                r = requests.post(self.url, json=body, headers=headers, timeout=5)
            except requests.RequestException:
                time.sleep(0.2)
                continue
            if r.status_code in (200, 201):
                self.numbers.append(r.json()["number"])
                return
            if r.status_code < 500 and r.status_code != 429:
                self.refused.append((r.status_code, r.text))
                return
            time.sleep(0.2)
        self.refused.append(("gave up", body["subject"]))


def rows(name, query, *params):
    with psycopg.connect(config.settings(name).database_url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def unpublished_outbox():
    return {name: rows(name, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")[0]["n"]
            for name in config.SERVICES}


def queue_depths(suffix=""):
    depths = {}
    with messaging.connect(config.settings("intake").amqp_uri) as conn:
        for name in config.SERVICES:
            for queue, _ in messaging.handlers_of(service_class(name)):
                depths[queue + suffix] = messaging.queue_depth(conn, queue + suffix)
    return depths


def chains(numbers):
    """Per case number: how many times each event type reached reporting."""
    found = rows("reporting", "SELECT c.number, e.type FROM events e JOIN cases c USING (case_id)"
                              " WHERE c.number = ANY(%s)", list(numbers))
    counted = collections.defaultdict(collections.Counter)
    for row in found:
        counted[row["number"]][row["type"]] += 1
    return counted


def incomplete(numbers):
    """Per case number still short of its chain: what is missing (a petitioner and the
    committee are told at least twice in all)."""
    counted = chains(numbers)
    missing = {n: [t for t in ONCE_PER_CASE if not counted[n][t]] for n in numbers}
    for n in numbers:
        if counted[n]["notification.sent"] < 2:
            missing[n].append("notification.sent")
    return {n: m for n, m in missing.items() if m}


@pytest.fixture
def quick_retries():
    """Notify retries a message that could not go out (intake down: no petitioner's phone) after
    a second, not the county's half a minute, so the test need not wait."""
    path = os.environ["FENGQIAO_NOTIFY_FILE"]
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    raw["delivery"] = {"attempts": 60, "backoff_seconds": 1, "max_backoff_seconds": 2}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(raw, f, allow_unicode=True)


def test_nothing_is_lost_or_doubled_when_services_broker_and_database_fail(stack, headers, quick_retries):
    stack.start(*config.SERVICES)
    load = SteadyRegistrations(f"{stack.url('intake')}/cases", headers)
    load.start()
    try:
        for name in config.SERVICES:
            time.sleep(2)
            stack.kill(name)
            time.sleep(1)
            stack.start(name)
        time.sleep(2)
        servers.restart_rabbitmq()
        time.sleep(3)
        servers.restart_postgresql()
        time.sleep(3)
    finally:
        load.stopping.set()
        load.join(150)
        servers.ensure_running()  # the rest of the suite needs them, whatever failed here
    numbers = load.numbers
    assert load.refused == [] and len(numbers) > 5 * RATE_PER_SECOND

    try:
        eventually(lambda: incomplete(numbers), lambda missing: not missing, timeout=120)
    except AssertionError as stuck:  # where the chain stopped
        raise AssertionError(f"outbox {unpublished_outbox()}, queues {queue_depths()}, dead {queue_depths('.dead')}:"
                             f" {str(stuck)[:600]}") from None
    # Exactly once: as many cases as answered registrations, each event of the chain once.
    assert len(set(numbers)) == len(numbers)
    assert rows("intake", "SELECT count(*) AS n FROM cases")[0]["n"] == len(numbers)
    assert sorted(r["number"] for r in rows("reporting", "SELECT number FROM cases")) == sorted(numbers)
    doubled = {n: {t: k for t, k in c.items() if t in ONCE_PER_CASE and k != 1} for n, c in chains(numbers).items()}
    assert {n: d for n, d in doubled.items() if d} == {}
    # Each notification once: one row per occasion in notify, one notification.sent per row, and
    # the SMS provider received each text under one id only (a kill between its acceptance and
    # notify's commit resends with the same id, which a provider drops).
    def sent_twice_told():
        """Per case: (messages notify sent, notification.sent events reporting holds)."""
        sent = collections.Counter(r["number"] for r in rows(
            "notify", "SELECT number FROM notifications WHERE status = 'sent' AND number = ANY(%s)", numbers))
        return {n: (sent[n], c["notification.sent"]) for n, c in chains(numbers).items()}

    eventually(lambda: rows("notify", "SELECT status, count(*) AS n FROM notifications GROUP BY status"),
               lambda counts: {c["status"] for c in counts} <= {"sent", "skipped"}, timeout=60)
    eventually(sent_twice_told, lambda told: all(a == b for a, b in told.values()), timeout=30)
    texts = collections.defaultdict(set)
    for sms in stack.channels["sms"]():
        message = json.loads(sms["body"])
        texts[(message["to"], message["text"])].add(message["id"])
    assert texts and all(len(ids) == 1 for ids in texts.values())
    mails = collections.defaultdict(set)  # and each e-mail under one Message-ID (its resend keeps it)
    for mail in stack.channels["smtp"]():
        parsed = email.message_from_string(mail["content"], policy=email.policy.default)
        mails[(tuple(mail["to"]), str(parsed["Subject"]), parsed.get_content())].add(parsed["Message-ID"])
    assert mails and all(len(ids) == 1 for ids in mails.values())
    # Nothing stuck: every outbox relayed, every queue drained, nothing parked.
    eventually(unpublished_outbox, lambda n: not any(n.values()), timeout=30)
    eventually(queue_depths, lambda d: not any(d.values()), timeout=30)
    assert queue_depths(".dead") == {q: 0 for q in queue_depths(".dead")}
    # and every service rode out the broker's and the database's restarts without dying
    assert {name: [p.poll() for p in replicas] for name, replicas in stack.processes.items()} == \
        {name: [None] * stack.replicas for name in config.SERVICES}
