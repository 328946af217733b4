"""One case through every service, with all of them running as processes."""
import json

import requests

from fengqiao import auth, catalog, config
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually, get_json

CHAIN = ["case.registered", "case.assigned", "notification.sent"]
# Beside the chain, what the other services do with an assigned neighbour dispute (in any order):
# notify tells the body; mediation opens a file at the village mediation committee, by which
# the committee signs for the case and accepts it in routing.
AFTER_ASSIGNMENT = {"notification.sent": "/fengqiao/notify", "mediation.opened": "/fengqiao/mediation",
                    "case.signed": "/fengqiao/routing", "case.accepted": "/fengqiao/routing"}


def types(timeline):
    return [e["type"] for e in timeline.get("events", [])]


def sources(timeline):
    return {e["type"]: e["source"] for e in timeline.get("events", [])}


def test_a_registered_case_is_assigned_notified_and_visible_in_reporting(stack, headers):
    stack.start("intake", "routing", "mediation", "notify", "reporting")
    r = requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=headers)
    assert r.status_code == 201, r.text
    number = r.json()["number"]

    timeline = eventually(
        lambda: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", headers),
        lambda t: set(AFTER_ASSIGNMENT) <= set(types(t)), timeout=10)
    assert types(timeline)[:2] == CHAIN[:2] and AFTER_ASSIGNMENT.items() <= sources(timeline).items()
    assert timeline["status"] == "in_progress" and timeline["body"] == "QS01-MEDIATION"
    assert len({e["correlationid"] for e in timeline["events"]}) == 1

    again = requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=headers)
    assert again.status_code == 200 and again.json()["outcome"] == "repeat_linked"
    timeline = eventually(
        lambda: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", headers),
        lambda t: {"case.repeat_linked", "case.risk_changed"} <= set(types(t)), timeout=10)
    assert types(timeline).index("case.repeat_linked") < types(timeline).index("case.risk_changed")
    events = catalog.load()
    for event in timeline["events"]:
        assert catalog.data_errors(events, event) == []
        assert "13800138000" not in str(event)  # personal data leaves intake masked
    assert {"case.registered": "/fengqiao/intake", "case.assigned": "/fengqiao/routing", **AFTER_ASSIGNMENT,
            "case.repeat_linked": "/fengqiao/intake", "case.risk_changed": "/fengqiao/routing"}.items() \
        <= sources(timeline).items()
    assert len({e["correlationid"] for e in timeline["events"]}) == 1

    assignment = get_json(f"{stack.url('routing')}/cases/{number}", headers)
    assert assignment["rule"] == "small-matter-in-the-village" and "小事不出村" in assignment["reason"]
    assert assignment["risk"] == "yellow" and assignment["repeat_count"] == 1  # a repeat petition raises it
    notices = {(n["kind"], n["recipient"], n["channel"]): n["status"]
               for n in get_json(f"{stack.url('notify')}/notifications?case={number}", headers)}
    assert notices[("case_assigned", "QS01-MEDIATION", "inbox")] == "sent"
    # the mediation file accepted the case: the petitioner is told, by SMS, at the phone intake keeps
    sms = eventually(stack.channels["sms"], bool)
    assert json.loads(sms[0]["body"])["to"] == "13800138000" and number in json.loads(sms[0]["body"])["text"]
    assert eventually(stack.channels["smtp"], bool)[0]["to"] == ["qs-xucs@songhe.example"]
    stats = get_json(f"{stack.url('reporting')}/stats", headers)
    assert stats == {"total": 1, "by_status": {"in_progress": 1}}
    [file] = get_json(f"{stack.url('mediation')}/files?case={number}", headers)
    assert file["body"] == "QS01-MEDIATION" and file["kind"] == "people"


def test_cases_registered_before_routing_and_notify_ever_started_are_not_lost(stack, headers):
    stack.start("intake", "reporting")
    numbers = []
    for i in range(3):
        someone_else = {**REGISTRATION_EXAMPLE, "petitioners": [{"name": f"村民{i}", "phone": f"1390000000{i}"}]}
        r = requests.post(f"{stack.url('intake')}/cases", json=someone_else, headers=headers)
        assert r.status_code == 201
        numbers.append(r.json()["number"])
    stack.start("routing", "notify")
    for number in numbers:
        eventually(lambda: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", headers),
                   lambda t: set(CHAIN) <= {e["type"] for e in t.get("events", [])}, timeout=15)


def test_a_matter_guided_to_its_lawful_route_is_not_assigned_and_counts_as_guided(stack, headers):
    stack.start("intake", "routing", "notify", "reporting")
    guided = {**REGISTRATION_EXAMPLE, "category": "wage_arrears",
              "guided_to": {"route": "arbitration", "note": "已告知向劳动人事争议仲裁委员会申请仲裁"}}
    number = requests.post(f"{stack.url('intake')}/cases", json=guided, headers=headers).json()["number"]
    timeline = eventually(lambda: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", headers),
                          lambda t: len(t.get("events", [])) == 2, timeout=10)
    assert [e["type"] for e in timeline["events"]] == ["case.registered", "case.guided"]
    assert timeline["status"] == "guided" and timeline["body"] is None
    # routing saw it and let it be: a later case still flows, the guided one stays unassigned
    someone_else = {**REGISTRATION_EXAMPLE, "petitioners": [{"name": "李某", "phone": "13900000009"}]}
    other = requests.post(f"{stack.url('intake')}/cases", json=someone_else, headers=headers).json()["number"]
    eventually(lambda: get_json(f"{stack.url('reporting')}/cases/{other}/timeline", headers),
               lambda t: t.get("status") == "assigned", timeout=10)
    assert get_json(f"{stack.url('routing')}/cases/{number}", headers) == {"status_code": 404}


def test_a_case_is_handled_from_signing_to_closure_and_reporting_follows(stack, headers):
    stack.start("intake", "routing", "notify", "reporting")
    number = requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=headers).json()["number"]
    eventually(lambda: get_json(f"{stack.url('routing')}/cases/{number}", headers),
               lambda c: c.get("status") == "assigned")
    s = config.settings("routing")
    handler = {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "QS-XUCS", ["handler"], "QS01")}
    for verb, body, who in [("sign", None, handler), ("accept", None, handler),
                            ("resolve", {"outcome": "demand_met", "reply": "经调解，院墙已退让通道。"}, handler),
                            ("follow-up", {"rating": "satisfied"}, headers), ("close", None, headers)]:
        r = requests.post(f"{stack.url('routing')}/cases/{number}/{verb}", json=body, headers=who)
        assert r.status_code == 200, (verb, r.text)
    handled = ["case.signed", "case.accepted", "case.resolved", "case.followed_up", "case.closed"]
    timeline = eventually(lambda: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", headers),
                          lambda t: t.get("status") == "closed" and "case.closed" in types(t))
    routed = [e["type"] for e in timeline["events"] if e["source"] == "/fengqiao/routing"]
    assert routed == ["case.assigned"] + handled  # notify's notices may land anywhere after case.assigned
    assert get_json(f"{stack.url('reporting')}/stats", headers) == {"total": 1, "by_status": {"closed": 1}}
