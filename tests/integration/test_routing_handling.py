"""Routing on the real broker and database: a registered case arrives over RabbitMQ and is
routed by the rules; its handling is driven over HTTP, every fact lands in the outbox, refused
commands change nothing; deadlines are swept on a timer and an overdue case escalates exactly
once with two replicas running."""
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from fengqiao import auth, catalog, config
from tests.support.events import contract_event
from services.routing.service import RoutingService
from tests.integration.conftest import eventually, outbox_events, pool_of, publish, web_port

ROUTING_DIR = config.REPO_ROOT / "services" / "routing"
CASE_ID = "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10"


def token(*roles, scope="SH", who="tester"):
    s = config.settings("routing")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, who, roles, scope)}


HANDLER, CLERK, LEADER = token("handler"), token("clerk"), token("leader", who="QS-leader")
DIRECTOR = token("leader", scope="QS", who="QS-SUNLP")  # the governance-center director of QS
LAND = token("handler", scope="QS", who="QS-HUGW")  # head of QS's natural-resources office (QS-LAND)


def registered(number="QS-2026-000001", case_id=CASE_ID, **over):
    # registered now: a case registered days ago would owe acceptance reminders at once
    now = datetime.now(timezone.utc).isoformat()
    data = {"case_id": case_id, "number": number, "channel": "visit", "location": "QS01", "township": "QS",
            "category": "neighbour_dispute", "channel_class": "civil_dispute", "subject": "院墙占道",
            "description": "邻居扩建院墙占用通道", "received_at": now,
            "registered_at": now, "anonymous": False, "collective": False,
            "petitioner_count": 1, "petitioners": [], "details": {}, "proposed_channel_class": "civil_dispute",
            "guided_to": None, **over}
    return contract_event("intake", "case.registered", data, subject=case_id, correlationid=f"corr-{number}")


@pytest.fixture
def service_class(isolated):
    return isolated(RoutingService)


@pytest.fixture
def routing(run_service, fresh_database, service_class):
    url = fresh_database(ROUTING_DIR)
    container = run_service(service_class, url, DEADLINE_SWEEP_SECONDS=0.2)
    return f"http://127.0.0.1:{web_port(container)}", url


def outbox_types(url):
    with pool_of(url) as pool, pool.connection() as conn:
        return [r["routing_key"] for r in conn.execute("SELECT routing_key FROM outbox ORDER BY seq")]


def assert_in_catalog(events):
    """What routing emitted is what the event catalog promises integrators."""
    documented = catalog.load()
    for event in events:
        assert catalog.data_errors(documented, event) == []


def arrive(base, amqp_uri, **over):
    event = registered(**over)
    publish(amqp_uri, "intake", event)
    number = event["data"]["number"]
    return eventually(lambda: (r := requests.get(f"{base}/cases/{number}", headers=CLERK)).ok and r.json())


def post(base, number, verb, body=None, headers=HANDLER):
    return requests.post(f"{base}/cases/{number}/{verb}", json=body, headers=headers)


def test_a_case_from_the_broker_is_routed_by_the_rules_with_its_deadlines(routing, amqp_uri):
    base, url = routing
    case = arrive(base, amqp_uri)
    assert (case["status"], case["body"], case["tier"]) == ("assigned", "QS01-MEDIATION", "village")
    assert case["rule"] == "small-matter-in-the-village" and "小事不出村" in case["reason"]
    assert {d["policy"] for d in case["deadlines"]} == {"acceptance", "sign"}
    assert outbox_types(url) == ["case.assigned"]
    explained = requests.get(f"{base}/cases/QS-2026-000001/explanation", headers=CLERK).json()
    assert explained["decision"]["lead"] == "QS01-MEDIATION" and explained["rules"][-1]["matched"]


def test_the_handling_lifecycle_over_http_with_its_events_and_deadlines(routing, amqp_uri):
    base, url = routing
    arrive(base, amqp_uri)
    n = "QS-2026-000001"
    assert post(base, n, "sign").json()["status"] == "signed"
    accepted = post(base, n, "accept").json()
    assert {d["policy"] for d in accepted["deadlines"]} == {"handling"}  # sign and acceptance stopped
    extended = post(base, n, "extend", {"days": 30, "approver": "QS-LIUXF", "reason": "需等待鉴定"}, LEADER)
    assert extended.status_code == 200, extended.text
    before = accepted["deadlines"][0]["due_at"]
    after = extended.json()["deadlines"][0]["due_at"]
    assert after > before
    again = post(base, n, "extend", {"days": 5, "approver": "QS-LIUXF", "reason": "再延"}, LEADER)
    assert again.status_code == 409 and "once already" in again.json()["detail"]
    resolved = post(base, n, "resolve", {"outcome": "demand_met", "reply": "院墙已拆除"})
    assert resolved.json()["status"] == "resolved" and [d["policy"] for d in resolved.json()["deadlines"]] == ["follow_up"]
    post(base, n, "follow-up", {"rating": "satisfied"}, CLERK)
    assert post(base, n, "close", headers=CLERK).json()["status"] == "closed"
    assert outbox_types(url) == ["case.assigned", "case.signed", "case.accepted", "case.extended",
                                 "case.resolved", "case.followed_up", "case.closed"]
    events = outbox_events(url)
    assert {e["correlationid"] for e in events} == {"corr-QS-2026-000001"}
    assert_in_catalog(events)


def test_refused_commands_say_why_and_change_nothing(routing, amqp_uri):
    base, url = routing
    arrive(base, amqp_uri)
    n = "QS-2026-000001"
    r = post(base, n, "resolve", {"outcome": "demand_met", "reply": "答复"})
    assert r.status_code == 409 and r.headers["Content-Type"] == "application/problem+json"
    assert "cannot resolve a case that is assigned" in r.json()["detail"]
    bad = post(base, n, "resolve", {"outcome": "shrugged", "reply": "", "extra": 1})
    assert bad.status_code == 400 and {e["field"] for e in bad.json()["errors"]} == {"outcome", "reply", "extra"}
    assert post(base, n, "sign", headers=CLERK).status_code == 403
    assert post(base, "QS-2026-999999", "sign").status_code == 404
    assert outbox_types(url) == ["case.assigned"]
    assert requests.get(f"{base}/cases/{n}", headers=CLERK).json()["status"] == "assigned"


def test_a_return_then_a_second_return_goes_to_the_leader(routing, amqp_uri):
    base, _ = routing
    arrive(base, amqp_uri)
    n = "QS-2026-000001"
    assert post(base, n, "return", {"reason": "不属本村职责"}).json()["status"] == "returned"
    assert post(base, n, "assign", {"body": "QS-JUDICIAL", "reason": "转司法所"}, CLERK).json()["body"] == "QS-JUDICIAL"
    post(base, n, "return", {"reason": "应由自然资源所办理"})
    refused = post(base, n, "assign", {"body": "QS-LAND", "reason": "转自然资源所"}, CLERK)
    assert refused.status_code == 409 and "leader decides" in refused.json()["detail"]
    assert post(base, n, "assign", {"body": "QS-LAND", "reason": "转自然资源所"}, LEADER).status_code == 409
    assert post(base, n, "assign", {"body": "QS-LAND", "reason": "转自然资源所"}, DIRECTOR).json()["body"] == "QS-LAND"


def test_a_whistle_answered_and_one_left_unanswered(routing, amqp_uri):
    base, url = routing
    arrive(base, amqp_uri)
    n = "QS-2026-000001"
    post(base, n, "sign"), post(base, n, "accept")
    raised = post(base, n, "whistles", {"bodies": ["QS-LAND"], "reason": "违建需联合处置"})
    assert raised.status_code == 201, raised.text
    [whistle] = raised.json()["whistles"]
    report = f"whistles/{whistle['id']}/report"
    assert post(base, n, report, {"body": "QS-LAND"}).status_code == 403  # the whistle's own body may not
    assert post(base, n, report, {"body": "QS-LAND"}, LAND).json()["whistles"][0]["status"] == "answered"
    unanswered = post(base, n, "whistles", {"bodies": ["QS-ENFORCE"], "reason": "需执法大队到场"}).json()["whistles"][1]
    with pool_of(url) as pool, pool.connection() as conn:  # let its window pass
        conn.execute("UPDATE deadlines SET due_at = now() - interval '1 minute', next_alert_at = now() WHERE owner_id = %s", (unanswered["id"],))
        conn.commit()
    case = eventually(lambda: (c := requests.get(f"{base}/cases/{n}", headers=CLERK).json())["tier"] == "township" and c)
    assert case["whistles"][1]["status"] == "escalated" and case["body"] == "QS-GOVCENTER"
    assert case["escalations"][0]["why"].startswith("deadline whistle_report missed")
    events = outbox_events(url)
    assert_in_catalog(events)
    [overdue] = [e for e in events if e["type"] == "deadline.overdue"]
    assert overdue["data"]["owner_id"] == unanswered["id"] and overdue["data"]["case_id"] == CASE_ID


def test_an_overdue_case_escalates_exactly_once_with_two_replicas(run_service, fresh_database, service_class, amqp_uri):
    url = fresh_database(ROUTING_DIR)
    replicas = [run_service(service_class, url, DEADLINE_SWEEP_SECONDS=0.1) for _ in range(2)]
    base = f"http://127.0.0.1:{web_port(replicas[0])}"
    arrive(base, amqp_uri)
    with pool_of(url) as pool, pool.connection() as conn:  # the sign window passed unsigned, two days ago
        conn.execute("UPDATE deadlines SET due_at = now() - interval '2 days', next_alert_at = now() WHERE policy = 'sign'")
        conn.commit()
    eventually(lambda: "case.escalated" in outbox_types(url))
    time.sleep(1)  # both replicas sweep several more times
    types = outbox_types(url)
    assert types.count("case.escalated") == 1 and types.count("deadline.overdue") == 1
    case = requests.get(f"{base}/cases/QS-2026-000001", headers=CLERK).json()
    assert case["tier"] == "township" and case["risk"] == "yellow"
    assert "deadline-missed" in case["risk_reasons"][0]
    events = outbox_events(url)
    assert_in_catalog(events)
    [overdue] = [e for e in events if e["type"] == "deadline.overdue"]
    assert overdue["subject"] == overdue["data"]["case_id"] == CASE_ID and overdue["data"]["policy"] == "sign"
    assert overdue["data"]["days_overdue"] == 2  # a late sweep: one notice, the current day, and still the escalation
    assert overdue["correlationid"] == "corr-QS-2026-000001"


def repeat_linked(repeat_count=1, petitioners=1, case_id=CASE_ID, number="QS-2026-000001"):
    data = {"case_id": case_id, "number": number, "channel": "visit", "received_at": "2026-11-21T01:00:00+00:00",
            "repeat_count": repeat_count, "petitioners": [{"name": f"村民{i}"} for i in range(petitioners)]}
    return contract_event("intake", "case.repeat_linked", data, subject=case_id, correlationid=f"corr-{number}")


def test_a_repeat_petition_that_overtakes_its_registration_still_counts(routing, amqp_uri):
    base, _ = routing
    publish(amqp_uri, "intake", repeat_linked(repeat_count=1, petitioners=21))  # e.g. routing was down; queues drain in any order
    time.sleep(0.5)
    case = arrive(base, amqp_uri)
    assert (case["repeat_count"], case["risk"]) == (1, "red")  # 21 people came back: red
    assert case["body"] == "QS-JUDICIAL"  # not 小事不出村: red and many people


def test_a_case_at_a_place_the_county_file_does_not_know_goes_to_the_dispatcher(routing, amqp_uri):
    base, url = routing
    case = arrive(base, amqp_uri, location="QS99")
    assert case["status"] == "returned" and case["body"] is None
    assert outbox_types(url) == ["case.returned"]
    assert post(base, "QS-2026-000001", "assign", {"body": "QS-JUDICIAL", "reason": "人工分派"}, CLERK).json()["status"] == "assigned"


def concluded(outcome, **data):
    base = {"file_id": "5b7d3c1a-2e4f-4a6b-8c9d-0e1f2a3b4c5d", "file_number": "QS-2026-000001-M1", "case_id": CASE_ID,
            "number": "QS-2026-000001", "township": "QS", "file_status": "concluded", "mediating_body": "QS01-MEDIATION",
            "outcome": outcome, "note": None,
            "mediators": ["QS-XUCS"], "concluded_by": "QS-XUCS", **data}
    return contract_event("mediation", "mediation.concluded", base, subject=CASE_ID, correlationid="corr-QS-2026-000001")


def test_a_mediation_agreement_resolves_the_case(routing, amqp_uri):
    base, url = routing
    arrive(base, amqp_uri)
    publish(amqp_uri, "mediation", concluded(
        "agreement", facts="占道", judicial_confirmation=False, performance_due="2026-12-20",
        terms=[{"party": "李某某", "obligation": "拆除占道院墙", "due": "2026-12-20"}]))
    case = eventually(lambda: (c := requests.get(f"{base}/cases/QS-2026-000001", headers=CLERK).json())["status"]
                      == "resolved" and c)
    assert "李某某于2026-12-20前拆除占道院墙" in case["resolution"]["reply"]
    assert case["resolution"]["by"] == "mediation QS-2026-000001-M1"
    assert outbox_types(url) == ["case.assigned", "case.signed", "case.accepted", "case.resolved"]
    assert [d["policy"] for d in case["deadlines"]] == ["follow_up"]


def test_a_failed_village_mediation_goes_up_to_the_township_judicial_office(routing, amqp_uri):
    base, url = routing
    arrive(base, amqp_uri)
    publish(amqp_uri, "mediation", concluded("no_agreement", guided_to="litigation", guided_to_label="向人民法院提起诉讼"))
    case = eventually(lambda: (c := requests.get(f"{base}/cases/QS-2026-000001", headers=CLERK).json())["tier"]
                      == "township" and c)
    assert case["body"] == "QS-JUDICIAL" and "village mediation QS-2026-000001-M1 failed" in case["escalations"][0]["why"]
    assert_in_catalog(outbox_events(url))


def test_a_desk_s_queue_holds_the_open_cases_of_its_scope_red_first_discipline_reports_for_their_officers(
        routing, amqp_uri):
    base, _ = routing
    arrive(base, amqp_uri)
    arrive(base, amqp_uri, number="BY-2026-000001", case_id=str(uuid.uuid4()), location="BY01", township="BY")
    officer = token("discipline_officer")
    publish(amqp_uri, "intake", registered(number="QS-2026-000002", case_id=str(uuid.uuid4()),
                                           category="cadre_misconduct", channel_class="discipline",
                                           proposed_channel_class="discipline", subject="村干部挪用补偿款"))
    eventually(lambda: requests.get(f"{base}/cases/QS-2026-000002", headers=officer).ok)
    red = post(base, "QS-2026-000001", "risk", {"level": "red", "reason": "扬言过激"}, headers=DIRECTOR)
    assert red.status_code == 200, red.text

    def queue(headers, query=""):
        r = requests.get(f"{base}/cases{query}", headers=headers)
        assert r.status_code == 200, r.text
        return [c["number"] for c in r.json()]

    assert queue(HANDLER)[0] == "QS-2026-000001"  # red first
    assert set(queue(HANDLER)) == {"QS-2026-000001", "BY-2026-000001"}  # no discipline report
    assert queue(token("handler", scope="QS")) == ["QS-2026-000001"]  # nothing of another township
    assert set(queue(officer)) == {"QS-2026-000001", "BY-2026-000001", "QS-2026-000002"}
    assert queue(HANDLER, "?risk=red") == ["QS-2026-000001"]
    # a case not accepted waits in the queue for its closing; a closed one leaves it
    post(base, "BY-2026-000001", "sign")
    assert post(base, "BY-2026-000001", "not-accept", {"reason": "属诉讼事项", "lawful_route": "people_mediation"}).ok
    assert "BY-2026-000001" in queue(HANDLER)
    assert post(base, "BY-2026-000001", "close", headers=CLERK).json()["status"] == "closed"
    assert "BY-2026-000001" not in queue(HANDLER) and queue(HANDLER, "?status=closed") == ["BY-2026-000001"]
    bad = requests.get(f"{base}/cases?risk=purple&limit=0&body=a%20b", headers=HANDLER)
    assert bad.status_code == 400 and {e["field"] for e in bad.json()["errors"]} == {"risk", "limit", "body"}
