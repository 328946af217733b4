"""A case's handling, verb by verb (services/routing/domain.py): each transition and the facts
it causes; each refused transition with its reason."""
from datetime import datetime, timedelta, timezone

import pytest

from fengqiao.auth import Principal
from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from services.routing import domain, rules

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
RULES = rules.load(REPO_ROOT / "deploy/county/rules.yaml")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
HANDLER = Principal("QS01-handler", ("handler",), "QS01")
CLERK = Principal("QS-clerk", ("clerk",), "QS")
LEADER = Principal("QS-leader", ("leader",), "QS")


def registered(**over):
    data = {"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "number": "QS-2026-000001", "township": "QS",
            "location": "QS01", "category": "neighbour_dispute", "channel_class": "civil_dispute",
            "subject": "院墙占道", "description": "邻居扩建院墙占用通道", "petitioner_count": 1, **over}
    case = domain.new_case(data, T0)
    case["correlationid"] = "c-1"
    facts = domain.reassess_risk(case, COUNTY, RULES, T0)
    return case, facts + domain.assign(case, rules.route(COUNTY, RULES, case), T0)


def types(facts):
    return [f.type for f in facts]


def in_progress(**over):
    case, _ = registered(**over)
    domain.sign(case, HANDLER, T0)
    domain.accept(case, HANDLER, T0)
    return case


def test_a_registered_case_is_assigned_with_its_rule_and_reason():
    case, facts = registered()
    assert types(facts) == ["case.assigned"]
    assert facts[0].data["body"] == "QS01-MEDIATION" and facts[0].data["tier"] == "village"
    assert facts[0].data["rule"] == "small-matter-in-the-village" and case["status"] == "assigned"


def test_the_happy_path_from_signing_to_closure():
    case, _ = registered()
    assert types(domain.sign(case, HANDLER, T0)) == ["case.signed"]
    assert types(domain.accept(case, HANDLER, T0)) == ["case.accepted"]
    resolved = domain.resolve(case, "demand_met", "院墙已拆除", HANDLER, T0)
    assert resolved[0].data["outcome_label"] == "合理诉求解决到位" and case["status"] == "resolved"
    assert types(domain.follow_up(case, "satisfied", None, CLERK, T0)) == ["case.followed_up"]
    closed = domain.close(case, T0)
    assert types(closed) == ["case.closed"] and case["status"] == "closed" and closed[0].data["status"] == "closed"


@pytest.mark.parametrize("verb, status", [
    (lambda c: domain.resolve(c, "demand_met", "答复", HANDLER, T0), "assigned"),   # resolving an unsigned case
    (lambda c: domain.accept(c, HANDLER, T0), "assigned"),
    (lambda c: domain.follow_up(c, "satisfied", None, CLERK, T0), "assigned"),
    (lambda c: domain.close(c, T0), "assigned"),
    (lambda c: domain.resume(c, T0), "assigned"),
])
def test_commands_the_state_does_not_allow_are_refused_with_why(verb, status):
    case, _ = registered()
    with pytest.raises(domain.Refused, match=f"a case that is {status}; it must be"):
        verb(case)
    assert case["status"] == status


def test_a_return_goes_to_the_dispatcher_and_a_second_to_the_governance_center_leader():
    case, _ = registered()
    first = domain.return_case(case, COUNTY, "不属本村调委会职责", HANDLER, T0)
    assert first[0].data["decided_by"] == "dispatcher" and case["status"] == "returned"
    domain.reassign(case, COUNTY, "QS-JUDICIAL", "转司法所", CLERK, T0)
    assert case["body"] == "QS-JUDICIAL" and case["status"] == "assigned"
    second = domain.return_case(case, COUNTY, "应由自然资源所办理", HANDLER, T0)
    director = COUNTY.leader_with_duty("governance_center_director", "QS01")
    assert second[0].data["returns"] == 2 and second[0].data["decided_by"] == director.id
    with pytest.raises(domain.Refused, match="governance-center leader decides"):
        domain.reassign(case, COUNTY, "QS-LAND", "转自然资源所", CLERK, T0)
    assert types(domain.reassign(case, COUNTY, "QS-LAND", "转自然资源所", LEADER, T0)) == ["case.assigned"]
    domain.return_case(case, COUNTY, "不属自然资源所职责", HANDLER, T0)
    with pytest.raises(domain.Invalid):
        domain.reassign(case, COUNTY, "NOPE", "无此单位", LEADER, T0)
    assert case["status"] == "returned"


def test_not_accepted_names_the_lawful_route_and_can_then_be_closed():
    case, _ = registered()
    domain.sign(case, HANDLER, T0)
    with pytest.raises(domain.Invalid):
        domain.not_accept(case, COUNTY, "已起诉", "nowhere", HANDLER, T0)
    facts = domain.not_accept(case, COUNTY, "已起诉", "litigation", HANDLER, T0)
    assert facts[0].data["route_label"] == "向人民法院提起诉讼"
    assert types(domain.close(case, T0)) == ["case.closed"]


def test_one_extension_of_at_most_the_maximum():
    case = in_progress()
    with pytest.raises(domain.Invalid):
        domain.extend(case, 31, 30, "QS-leader", "需鉴定", T0)
    assert domain.extend(case, 30, 30, "QS-leader", "需鉴定", T0)[0].data["days"] == 30
    with pytest.raises(domain.Refused, match="extended once already"):
        domain.extend(case, 5, 30, "QS-leader", "再延", T0)


def test_suspend_and_resume():
    case = in_progress()
    assert types(domain.suspend(case, "等待鉴定结论", T0)) == ["case.suspended"]
    with pytest.raises(domain.Refused):
        domain.resolve(case, "demand_met", "答复", HANDLER, T0)
    assert types(domain.resume(case, T0)) == ["case.resumed"] and case["status"] == "in_progress"


def test_each_of_the_four_outcomes_and_no_other():
    for outcome in domain.OUTCOMES:
        case = in_progress()
        assert domain.resolve(case, outcome, "答复", HANDLER, T0)[0].data["outcome"] == outcome
    with pytest.raises(domain.Invalid):
        domain.resolve(in_progress(), "shrugged", "答复", HANDLER, T0)


def test_a_red_case_needs_a_joint_consultation_before_it_is_resolved():
    case = in_progress(description="扬言要喝农药")
    assert case["risk"] == "red"
    with pytest.raises(domain.Refused, match="joint consultation"):
        domain.resolve(case, "demand_met", "答复", HANDLER, T0)
    domain.consult(case, "QS-leader", ["QS-JUDICIAL", "QS-POLICE"], ["刘建国"], "司法所牵头", T0)
    assert types(domain.resolve(case, "demand_met", "答复", HANDLER, T0)) == ["case.resolved"]


def test_review_then_re_review_then_closed_for_good():
    case = in_progress()
    domain.resolve(case, "explained", "依政策答复", HANDLER, T0)
    domain.follow_up(case, "unsatisfied", None, CLERK, T0)
    with pytest.raises(domain.Refused, match="may still request a review until"):
        domain.close(case, T0 + timedelta(days=3))
    review = domain.request_review(case, "不服处理意见", T0 + timedelta(days=10))
    assert review[0].data["stage"] == "review" and review[0].data["decided_at_level"] == "township"
    assert types(domain.decide_review(case, "upheld", "维持", LEADER, T0 + timedelta(days=20))) == ["case.review_decided"]
    late = T0 + timedelta(days=20 + 31)
    with pytest.raises(domain.Refused, match="within 30 days of the reply"):
        domain.request_review(case, "不服复查意见", late)
    domain.request_review(case, "不服复查意见", T0 + timedelta(days=25))
    final = domain.decide_review(case, "upheld", "复核维持", LEADER, T0 + timedelta(days=40))
    assert types(final) == ["case.review_decided", "case.closed"] and final[-1].data["final"] is True


def test_a_review_that_says_redo_reopens_the_case():
    case = in_progress()
    domain.resolve(case, "explained", "答复", HANDLER, T0)
    domain.follow_up(case, "unsatisfied", None, CLERK, T0)
    domain.request_review(case, "不服", T0)
    facts = domain.decide_review(case, "redo", "事实不清，重新办理", LEADER, T0)
    assert types(facts) == ["case.review_decided", "case.reopened"] and case["status"] == "in_progress"


def test_a_satisfied_petitioner_cannot_ask_for_review():
    case = in_progress()
    domain.resolve(case, "demand_met", "答复", HANDLER, T0)
    domain.follow_up(case, "satisfied", None, CLERK, T0)
    with pytest.raises(domain.Refused, match="only an unsatisfied"):
        domain.request_review(case, "x", T0)


def test_rules_only_raise_risk_and_responsibility_follows_the_colour():
    case, facts = registered(petitioner_count=6)
    assert types(facts)[0] == "case.risk_changed" and case["risk"] == "yellow"
    assert case["leader"]["duty"] == "township_head"
    case["repeat_count"] = 5
    assert domain.reassess_risk(case, COUNTY, RULES, T0) == []  # still yellow: nothing new
    red = domain.reassess_risk(case, COUNTY, RULES, T0 + timedelta(days=400))  # a year-old backlog, 3+ repeats
    assert red[0].data["to"] == "red" and red[0].data["county_told"] is True
    responsible = red[0].data["responsible"]
    assert responsible["leader"]["duty"] == "party_secretary" and responsible["governance_center"] == "QS-GOVCENTER"
    assert responsible["political_legal_member"]["id"] and responsible["county"]["id"]


def test_a_repeat_petition_raises_the_risk_and_more_people_coming_back_raise_it_further():
    case, _ = registered()
    yellow = domain.repeat_petition(case, COUNTY, RULES, repeat_count=1, petitioners=1, now=T0)
    assert (yellow[0].data["from"], yellow[0].data["to"]) == ("blue", "yellow") and case["repeat_count"] == 1
    assert "repeat-petition" in yellow[0].data["reasons"][0]
    red = domain.repeat_petition(case, COUNTY, RULES, repeat_count=2, petitioners=22, now=T0)
    assert red[0].data["to"] == "red" and case["petitioner_count"] == 22
    assert domain.repeat_petition(case, COUNTY, RULES, repeat_count=1, petitioners=3, now=T0) == []
    assert (case["repeat_count"], case["petitioner_count"]) == (2, 22)  # a late, smaller event lowers nothing


def test_staff_set_risk_with_a_reason_up_or_down():
    case, _ = registered()
    down = domain.reassess_risk(case, COUNTY, RULES, T0, by="QS-leader", level="yellow", reason="情绪激动")
    assert down[0].data["changed_by"] == "QS-leader" and "情绪激动" in down[0].data["reasons"][0]
    domain.reassess_risk(case, COUNTY, RULES, T0, by="QS-leader", level="blue", reason="已稳控")
    assert case["risk"] == "blue"
    with pytest.raises(domain.Refused):
        domain.reassess_risk(case, COUNTY, RULES, T0, by="QS-leader", level="blue", reason="again")


def test_escalation_climbs_one_tier_at_a_time_and_stops_at_the_county():
    case, _ = registered()
    facts = domain.escalate(case, COUNTY, RULES, "sign deadline missed", T0)
    assert types(facts) == ["case.escalated", "case.assigned"]
    assert facts[0].data["from_tier"] == "village" and facts[0].data["to_body"] == "QS-GOVCENTER"
    assert case["tier"] == "township" and case["status"] == "assigned"
    domain.escalate(case, COUNTY, RULES, "still stalled", T0)
    assert case["tier"] == "county"
    with pytest.raises(domain.Refused, match="no higher tier"):
        domain.escalate(case, COUNTY, RULES, "again", T0)


def test_a_whistle_is_answered_when_every_named_body_has_reported():
    case = in_progress()
    whistle, facts = domain.raise_whistle(case, COUNTY, ["QS-LAND", "QS-ENFORCE"], "违建涉及多部门", HANDLER, T0)
    assert types(facts) == ["case.whistle_raised"] and facts[0].data["bodies"] == ["QS-LAND", "QS-ENFORCE"]
    assert types(domain.answer_whistle(case, whistle, "QS-LAND", HANDLER, T0)) == ["case.whistle_reported"]
    with pytest.raises(domain.Refused, match="reported already"):
        domain.answer_whistle(case, whistle, "QS-LAND", HANDLER, T0)
    with pytest.raises(domain.Invalid):
        domain.answer_whistle(case, whistle, "QS-POLICE", HANDLER, T0)
    last = domain.answer_whistle(case, whistle, "QS-ENFORCE", HANDLER, T0)
    assert types(last) == ["case.whistle_reported", "case.whistle_answered"] and whistle["status"] == "answered"
