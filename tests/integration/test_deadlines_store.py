"""Deadlines on the real PostgreSQL: started by events (once), the sweep's reminders and overdue
notices (each once), pauses credited, extensions bounded, and two replicas sweeping at once."""
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import eventlet
import pytest
from eventlet.event import Event

from fengqiao import db, deadline_store, deadlines
from fengqiao.config import REPO_ROOT
from fengqiao.dependencies import Tx
from tests.integration.conftest import pool_of

SHIPPED = deadlines.load(REPO_ROOT / "deploy" / "county" / "deadlines.yaml")
CAL, POLICIES = SHIPPED.calendar, SHIPPED.policies
UTC = timezone.utc
STARTED = datetime(2026, 3, 2, 10, 0, tzinfo=CAL.tz)  # a Monday


def end_of(y, m, d):
    return CAL.end_of_day(date(y, m, d))


@contextmanager
def transaction(pool):
    with db.transaction(pool) as conn:
        yield Tx(conn, "routing", None)


def new_owner(n=1):
    return {"id": str(uuid.uuid4()), "number": f"QS-2026-{n:06d}", "township": "QS", "correlationid": f"corr-{n}"}


def event(pool, owner, type, at, context=None):
    with transaction(pool) as tx:
        return deadline_store.apply_event(tx, POLICIES, CAL, owner, type, at, context)


def sweep(pool, now):
    """One sweep as a service runs it: claim, (emit), mark, commit. The Due items."""
    with transaction(pool) as tx:
        dues = deadline_store.claim_due(tx, now, POLICIES, CAL)
        for due in dues:
            deadline_store.mark_sent(tx, due)
    return dues


def row(pool, owner, policy):
    with pool.connection() as conn:
        return conn.execute("SELECT * FROM deadlines WHERE owner_id = %s AND policy = %s ORDER BY started_at DESC",
                            (owner["id"], policy)).fetchone()


@pytest.fixture
def pool(fresh_database):
    with pool_of(fresh_database()) as p:
        yield p


def test_started_once_then_reminders_and_overdue_notices_each_once(pool):
    owner = new_owner()
    assert [(a, p) for a, p, _ in event(pool, owner, "case.accepted", STARTED,
                                                              {"case_id": owner["id"], "body": "QS-SFS"})] == [
        ("start", "handling")]
    assert event(pool, owner, "case.accepted", STARTED + timedelta(hours=1)) == []  # redelivered: nothing
    handling = row(pool, owner, "handling")
    assert handling["due_at"] == end_of(2026, 5, 6)  # Mar 2 + 60 = May 1, Labour Day holiday → Wed May 6
    span = handling["due_at"] - STARTED

    assert sweep(pool, STARTED + span * 0.49) == []
    [half] = sweep(pool, STARTED + span * 0.51)
    assert (half.kind, half.key) == ("due_soon", "50%")
    assert half.data == {
        "deadline_id": str(handling["id"]), "policy": "handling", "owner_id": owner["id"], "case_id": owner["id"],
        "number": "QS-2026-000001",
        "township": "QS", "started_at": "2026-03-02T02:00:00+00:00", "due_at": "2026-05-06T16:00:00+00:00",
        "due_date": "2026-05-06", "threshold": "50%", "share_used": 0.51,
        "context": {"case_id": owner["id"], "body": "QS-SFS"}}
    assert half.deadline["correlationid"] == "corr-1"
    assert sweep(pool, STARTED + span * 0.52) == []  # marked: never again

    [four_fifths] = sweep(pool, STARTED + span * 0.9)
    assert four_fifths.key == "80%"
    [overdue] = sweep(pool, handling["due_at"] + timedelta(minutes=1))  # the 1d reminder is moot now
    assert (overdue.kind, overdue.key, overdue.first, overdue.data["days_overdue"]) == ("overdue", 0, True, 0)
    assert sweep(pool, handling["due_at"] + timedelta(hours=23)) == []
    [next_day] = sweep(pool, handling["due_at"] + timedelta(days=1, minutes=1))
    assert (next_day.key, next_day.first) == (1, False)
    stored = row(pool, owner, "handling")
    assert (stored["reminders_sent"], stored["overdue_days_sent"]) == (["50%", "80%"], 1)

    # resolved: handling stops, the follow-up starts; only its notices come after
    changes = event(pool, owner, "case.resolved", handling["due_at"] + timedelta(days=1, hours=2))
    assert [(a, p) for a, p, _ in changes] == [("stop", "handling"), ("start", "follow_up")]
    later = sweep(pool, handling["due_at"] + timedelta(days=30))
    assert [(d.data["policy"], d.kind, d.key) for d in later] == [("follow_up", "overdue", 21)]


def test_pause_and_resume_credit_the_paused_time_to_the_stored_due_moment(pool):
    owner = new_owner()
    event(pool, owner, "case.accepted", STARTED)
    original = row(pool, owner, "handling")["due_at"]
    event(pool, owner, "case.suspended", STARTED + timedelta(days=5))
    with transaction(pool) as tx:
        [shown] = deadline_store.active(tx, owner["id"], now=STARTED + timedelta(days=40))
    assert shown["paused"] is True and shown["share_used"] == pytest.approx(5 / (original - STARTED).days, abs=0.01)
    assert sweep(pool, original + timedelta(days=10)) == []  # a paused clock owes nothing
    assert [a for a, _, _ in event(pool, owner, "case.resumed", STARTED + timedelta(days=8))] == ["resume"]
    assert event(pool, owner, "case.resumed", STARTED + timedelta(days=9)) == []  # not paused any more
    resumed = row(pool, owner, "handling")
    assert resumed["due_at"] == original + timedelta(days=3)
    assert resumed["paused_seconds"] == Decimal(3 * 86400) and resumed["paused_at"] is None
    # paused again for 90 minutes: credited to the second
    event(pool, owner, "case.suspended", STARTED + timedelta(days=20))
    event(pool, owner, "case.resumed", STARTED + timedelta(days=20, minutes=90))
    assert row(pool, owner, "handling")["due_at"] == original + timedelta(days=3, minutes=90)
    [first] = sweep(pool, STARTED + timedelta(days=40))
    assert first.key == "50%"


def test_extensions_are_bounded_and_move_the_due_moment(pool):
    owner = new_owner()
    event(pool, owner, "case.assigned", STARTED)
    event(pool, owner, "case.accepted", STARTED)
    with transaction(pool) as tx:
        extended = deadline_store.extend(tx, owner["id"], "handling", 20, CAL, at=STARTED)
    assert extended["due_at"] == end_of(2026, 5, 21) and extended["extension_days"] == 20  # Mar 2 + 80 days
    with pytest.raises(deadline_store.ExtensionRefused, match="at most 30 days in all; 20 granted already, 11 asked"):
        with transaction(pool) as tx:
            deadline_store.extend(tx, owner["id"], "handling", 11, CAL, at=STARTED)
    with pytest.raises(deadline_store.ExtensionRefused, match="the sign deadline cannot be extended"):
        with transaction(pool) as tx:
            deadline_store.extend(tx, owner["id"], "sign", 1, CAL)
    with pytest.raises(deadline_store.DeadlineError, match="no running follow_up deadline"):
        with transaction(pool) as tx:
            deadline_store.extend(tx, owner["id"], "follow_up", 1, CAL)
    assert row(pool, owner, "handling")["extension_days"] == 20


def test_an_extended_overdue_deadline_is_noticed_again_when_the_new_moment_passes(pool):
    owner = new_owner()
    event(pool, owner, "case.accepted", STARTED)
    due = row(pool, owner, "handling")["due_at"]
    [overdue] = sweep(pool, due + timedelta(hours=1))
    assert overdue.key == 0
    with transaction(pool) as tx:
        deadline_store.extend(tx, owner["id"], "handling", 30, CAL, at=due + timedelta(hours=2))
    new_due = row(pool, owner, "handling")["due_at"]
    # on time again: reminders of the longer span may come, overdue notices do not
    assert "overdue" not in [d.kind for d in sweep(pool, due + timedelta(days=2))]
    [again] = sweep(pool, new_due + timedelta(minutes=1))
    assert (again.kind, again.key, again.first) == ("overdue", 0, True)


def test_two_sweepers_at_once_claim_a_deadline_once(fresh_database):
    """Replica A claims and holds its transaction open while replica B sweeps: B must skip the
    locked row, not wait for it and not send it too (ENGINEERING pitfall 10)."""
    url = fresh_database()
    with pool_of(url) as a_pool, pool_of(url) as b_pool:
        owner = new_owner()
        event(a_pool, owner, "case.accepted", STARTED)
        now = row(a_pool, owner, "handling")["due_at"] + timedelta(hours=1)
        a_claimed, b_done = Event(), Event()

        def replica_a():
            with transaction(a_pool) as tx:
                dues = deadline_store.claim_due(tx, now, POLICIES, CAL)
                a_claimed.send()
                b_done.wait()  # both transactions are open now
                for due in dues:
                    deadline_store.mark_sent(tx, due)
            return dues

        def replica_b():
            a_claimed.wait()
            try:
                with transaction(b_pool) as tx:
                    tx.execute("SET LOCAL lock_timeout = '3s'")  # waiting for A's lock would fail, not hang
                    dues = deadline_store.claim_due(tx, now, POLICIES, CAL)
                    for due in dues:
                        deadline_store.mark_sent(tx, due)
                return dues
            finally:
                b_done.send()

        with eventlet.Timeout(20):
            a, b = eventlet.spawn(replica_a), eventlet.spawn(replica_b)
            claims = a.wait() + b.wait()
        assert [(d.kind, d.key) for d in claims] == [("overdue", 0)]
        assert sweep(b_pool, now) == []  # A's mark committed


def test_many_sweepers_racing_send_each_notice_once(fresh_database):
    url = fresh_database()
    owners = [new_owner(n) for n in range(30)]
    with pool_of(url) as pool:
        for owner in owners:
            event(pool, owner, "case.accepted", STARTED)
        now = row(pool, owners[0], "handling")["due_at"] + timedelta(hours=1)
        pools = [db.open_pool(url, max_size=1) for _ in range(4)]
        try:
            def replica(p):
                with transaction(p) as tx:
                    tx.execute("SET LOCAL lock_timeout = '3s'")
                    dues = deadline_store.claim_due(tx, now, POLICIES, CAL, limit=7)
                    eventlet.sleep(0.05)  # hold the locks while the others sweep
                    for due in dues:
                        deadline_store.mark_sent(tx, due)
                return [d.deadline["owner_id"] for d in dues]

            claimed = []
            with eventlet.Timeout(30):
                for _ in range(3):
                    pile = eventlet.GreenPile()
                    for p in pools:
                        pile.spawn(replica, p)
                    claimed += [o for found in pile for o in found]
        finally:
            for p in pools:
                p.close()
    assert sorted(map(str, claimed)) == sorted(o["id"] for o in owners)  # each once, none left


def test_active_lists_running_deadlines_for_display(pool):
    owner = new_owner()
    event(pool, owner, "case.registered", STARTED)
    event(pool, owner, "case.assigned", STARTED)
    with transaction(pool) as tx:
        shown = deadline_store.active(tx, owner["id"], now=STARTED + timedelta(hours=7))
    assert [(d["policy"], d["due_at"], d["paused"]) for d in shown] == [
        ("sign", "2026-03-03T16:00:00+00:00", False), ("acceptance", "2026-03-17T16:00:00+00:00", False)]
    assert shown[0]["share_used"] == pytest.approx(7 / 38, abs=0.001)  # 10:00 Mon → 24:00 Tue
    event(pool, owner, "case.signed", STARTED + timedelta(hours=8))
    with pool.connection() as conn:
        assert [d["policy"] for d in deadline_store.active(conn, owner["id"])] == ["acceptance"]
