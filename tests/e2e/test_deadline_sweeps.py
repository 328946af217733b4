"""Deadlines running out with every service running (with two replicas in the suite's second
pass, each sweeping on its own timer): one reminder per threshold, one overdue notice per day,
one escalation, one notification per occasion."""
import collections
import time

import psycopg
import requests

from fengqiao import config
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually, get_json
from tests.e2e.test_case_flow import AFTER_ASSIGNMENT, types


def run_out(service, number, due):
    """Move the running deadlines of a case in a service's database as if time had passed."""
    with psycopg.connect(config.settings(service).database_url) as conn:
        moved = conn.execute(
            "UPDATE deadlines SET started_at = now() - interval '20 days', due_at = now() + %s::interval,"
            " next_alert_at = now() WHERE owner_number = %s AND stopped_at IS NULL", (due, number)).rowcount
    assert moved >= 1, (service, number)


def test_deadlines_remind_and_escalate_once_whatever_the_replicas(stack, headers, monkeypatch):
    monkeypatch.setenv("FENGQIAO_DEADLINE_SWEEP_SECONDS", "0.2")
    stack.start(*config.SERVICES)
    r = requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=headers)
    number = r.json()["number"]
    timeline_url = lambda: f"{stack.url('reporting')}/cases/{number}/timeline"  # noqa: E731 (takes turns)
    eventually(lambda: get_json(timeline_url(), headers), lambda t: set(AFTER_ASSIGNMENT) <= set(types(t)), timeout=15)

    run_out("mediation", number, "1 hour")  # the mediation file's time nearly used: reminders
    eventually(lambda: get_json(timeline_url(), headers), lambda t: "deadline.due_soon" in types(t), timeout=20)
    run_out("routing", number, "-1 minute")  # handling missed: overdue, escalated to the township
    eventually(lambda: get_json(timeline_url(), headers),
               lambda t: {"case.escalated", "deadline.overdue"} <= set(types(t)), timeout=20)
    time.sleep(2)  # every replica sweeps ten more times
    timeline = get_json(timeline_url(), headers)
    events = timeline["events"]
    assert types(timeline).count("case.escalated") == 1
    notices = collections.Counter(
        (e["type"], e["data"]["deadline_id"], e["data"].get("threshold"), e["data"].get("days_overdue"))
        for e in events if e["type"] in ("deadline.due_soon", "deadline.overdue"))
    assert notices and set(notices.values()) == {1}, notices
    sent = collections.Counter(e["data"]["notification_id"] for e in events if e["type"] == "notification.sent")
    assert set(sent.values()) == {1}

    def sent_and_told():  # notify's sent messages and reporting's notification.sent, read together
        told = [e for e in get_json(timeline_url(), headers)["events"] if e["type"] == "notification.sent"]
        occasions = get_json(f"{stack.url('notify')}/notifications?case={number}", headers)
        return occasions, sum(n["status"] == "sent" for n in occasions), len(told)
    occasions, _, _ = eventually(sent_and_told, lambda found: found[1] == found[2], timeout=10)
    kinds = collections.Counter((n["kind"], n["recipient"], n["channel"]) for n in occasions)
    assert {"deadline_due_soon", "deadline_overdue"} <= {kind for kind, _, _ in kinds}, kinds
