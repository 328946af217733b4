"""Reporting's projection on the real database: events arrive over separate queues, so out of
order; the case row must settle on the latest status all the same."""
from fengqiao import config
from fengqiao.db import transaction
from services.reporting import projection, store
from tests.integration.conftest import pool_of


def _event(type, time, **data):
    return {"type": type, "time": time, "data": {"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10",
                                                   "number": "QS-2026-000001", **data}}


def test_a_late_registered_event_does_not_turn_an_assigned_case_back(fresh_database):
    url = fresh_database(config.REPO_ROOT / "services" / "reporting")
    assigned = _event("case.assigned", "2026-11-22T08:00:02Z", body="QS-JUDICIAL", status="assigned")
    registered = _event("case.registered", "2026-11-22T08:00:01Z", township="QS", category="land_dispute")
    with pool_of(url) as pool:
        for event in (assigned, registered):
            with transaction(pool) as conn:
                store.apply_case_facts(conn, projection.case_facts(event))
        with pool.connection() as conn:
            row = conn.execute("SELECT status, body, township, category FROM cases").fetchone()
    assert row == {"status": "assigned", "body": "QS-JUDICIAL", "township": "QS", "category": "land_dispute"}
