from services.reporting.projection import case_facts


def _event(type, **data):
    return {"type": type, "time": "2026-11-22T08:00:00Z", "data": data}


def test_case_events_set_facts_and_status():
    facts = case_facts(_event("case.assigned", case_id="c1", number="QS-2026-000001", body="QS-JUDICIAL",
                              status="assigned"))
    assert facts["status"] == "assigned" and facts["body"] == "QS-JUDICIAL" and facts["township"] is None
    assert case_facts(_event("case.registered", case_id="c1", number="QS-2026-000001"))["status"] == "registered"
    assert case_facts(_event("case.resolved", case_id="c1", number="QS-2026-000001", status="resolved"))["status"] == "resolved"


def test_events_that_do_not_move_the_status_leave_it():
    assert case_facts(_event("notification.sent", case_id="c1", number="QS-2026-000001"))["status"] is None


def test_events_about_no_case_have_no_facts():
    assert case_facts(_event("deadline.due_soon", policy="x")) is None
