"""A case's handling, verb by verb (services/routing/domain.py): each transition and the facts
it causes; each refused transition with its reason."""
from datetime import datetime, timedelta, timezone

import pytest

from fengqiao import access
from fengqiao.auth import Principal
from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from fengqiao.deadlines import load as load_deadlines
from fengqiao.facts import Forbidden
from services.routing import domain, rules

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
RULES = rules.load(REPO_ROOT / "deploy/county/rules.yaml")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
HANDLER = Principal("QS01-handler", ("handler",), "QS01")
CLERK = Principal("QS-clerk", ("clerk",), "QS")
LEADER = Principal("QS-leader", ("leader",), "QS")
DIRECTOR = Principal("QS-SUNLP", ("leader",), "QS")  # 综治中心主任 of QS in the sample county
LAND = Principal("QS-HUGW", ("handler",), "QS")  # 自然资源所所长


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


def test_a_discipline_reports_events_say_nothing_of_what_people_wrote():
    case = in_progress(category="cadre_misconduct", channel_class="discipline")
    [resolved] = domain.resolve(case, "referred", "已移送区纪委立案审查", HANDLER, T0)
    [followed] = domain.follow_up(case, "satisfied", "举报人认可处理结果", CLERK, T0)
    assert resolved.data["reply"] == followed.data["note"] == access.WITHHELD
    assert resolved.data["outcome"] == "referred" and followed.data["rating"] == "satisfied"  # the facts stay
    assert case["resolution"]["reply"] == "已移送区纪委立案审查"  # routing's own record keeps the text
    ordinary = in_progress()
    assert domain.resolve(ordinary, "demand_met", "院墙已拆除", HANDLER, T0)[0].data["reply"] == "院墙已拆除"


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
    for someone_else in (CLERK, LEADER):  # only the director named may decide now
        with pytest.raises(domain.Refused, match="governance-center leader decides"):
            domain.reassign(case, COUNTY, "QS-LAND", "转自然资源所", someone_else, T0)
    assert types(domain.reassign(case, COUNTY, "QS-LAND", "转自然资源所", DIRECTOR, T0)) == ["case.assigned"]
    domain.return_case(case, COUNTY, "不属自然资源所职责", HANDLER, T0)
    with pytest.raises(domain.Invalid):
        domain.reassign(case, COUNTY, "NOPE", "无此单位", DIRECTOR, T0)
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
        domain.extend(case, COUNTY, 31, 30, "QS-LIUXF", "需鉴定", T0)
    with pytest.raises(domain.Invalid, match="not a leader"):
        domain.extend(case, COUNTY, 30, 30, "QS-HUANGWD", "需鉴定", T0)  # a handler cannot approve
    assert domain.extend(case, COUNTY, 30, 30, "QS-LIUXF", "需鉴定", T0)[0].data["days"] == 30
    with pytest.raises(domain.Refused, match="extended once already"):
        domain.extend(case, COUNTY, 5, 30, "QS-LIUXF", "再延", T0)


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
    with pytest.raises(domain.Invalid):
        domain.consult(case, COUNTY, "QS-leader", ["QS-NOPE"], ["刘建国"], "司法所牵头", T0)
    domain.consult(case, COUNTY, "QS-leader", ["QS-JUDICIAL", "QS-POLICE"], ["刘建国"], "司法所牵头", T0)
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
    assert types(domain.answer_whistle(case, COUNTY, whistle, "QS-LAND", LAND, T0)) == ["case.whistle_reported"]
    with pytest.raises(domain.Refused, match="reported already"):
        domain.answer_whistle(case, COUNTY, whistle, "QS-LAND", LAND, T0)
    with pytest.raises(domain.Invalid):
        domain.answer_whistle(case, COUNTY, whistle, "QS-POLICE", LEADER, T0)
    last = domain.answer_whistle(case, COUNTY, whistle, "QS-ENFORCE", LEADER, T0)  # a leader, on its behalf
    assert types(last) == ["case.whistle_reported", "case.whistle_answered"] and whistle["status"] == "answered"


@pytest.mark.parametrize("who", [HANDLER, LAND])  # not in the staff file; of another body
def test_a_body_reports_for_itself_not_the_body_that_blew_the_whistle(who):
    case = in_progress()
    whistle, _ = domain.raise_whistle(case, COUNTY, ["QS-ENFORCE"], "违建", HANDLER, T0)
    with pytest.raises(Forbidden, match="reports for itself"):
        domain.answer_whistle(case, COUNTY, whistle, "QS-ENFORCE", who, T0)
    assert whistle["reports"] == {"QS-ENFORCE": None}


# --- the deadlines each step leaves running (the facts fed through the shipped policies) ----------

DEADLINES = load_deadlines(REPO_ROOT / "deploy/county/deadlines.yaml")


class Clocks:
    """Which policies run, and which are paused, after feeding facts in as the service does."""

    def __init__(self):
        self.running, self.paused = set(), set()

    def feed(self, facts):
        for f in facts:
            for action, policy in DEADLINES.actions_for(f.type):
                name = policy.name
                if action == "start":
                    self.running.add(name)
                elif action == "stop":
                    self.running.discard(name), self.paused.discard(name)
                elif action == "pause" and name in self.running:
                    self.paused.add(name)
                elif action == "resume":
                    self.paused.discard(name)
        return self


def test_each_step_starts_and_stops_the_right_clocks():
    case, facts = registered()
    clocks = Clocks().feed([domain.Fact("case.registered", {})] + facts)
    assert clocks.running == {"acceptance", "sign"}
    clocks.feed(domain.sign(case, HANDLER, T0) + domain.accept(case, HANDLER, T0))
    assert clocks.running == {"handling"}
    clocks.feed(domain.resolve(case, "demand_met", "答复", HANDLER, T0))
    assert clocks.running == {"follow_up"}
    clocks.feed(domain.follow_up(case, "satisfied", None, CLERK, T0) + domain.close(case, T0))
    assert clocks.running == set()


def test_not_accepting_leaves_no_clock_running():
    case, facts = registered()
    clocks = Clocks().feed([domain.Fact("case.registered", {})] + facts + domain.sign(case, HANDLER, T0))
    clocks.feed(domain.not_accept(case, COUNTY, "已起诉", "litigation", HANDLER, T0))
    assert clocks.running == set()


def test_a_suspended_case_sent_up_a_tier_runs_again_and_is_not_accepted_twice():
    case, facts = registered()
    clocks = Clocks().feed(facts + domain.sign(case, HANDLER, T0) + domain.accept(case, HANDLER, T0))
    clocks.feed(domain.suspend(case, "等待鉴定", T0))
    assert clocks.paused == {"handling"}
    clocks.feed(domain.escalate(case, COUNTY, RULES, "超出村级权限", T0))
    assert clocks.paused == set() and clocks.running == {"handling", "sign"}
    signed = domain.sign(case, HANDLER, T0)
    assert case["status"] == "in_progress" and signed[0].data["status"] == "in_progress"
    assert clocks.feed(signed).running == {"handling"}
    case["status"] = "signed"  # even were it signed only, acceptance is decided once
    with pytest.raises(domain.Refused, match="accepted already"):
        domain.not_accept(case, COUNTY, "x", "litigation", HANDLER, T0)


# --- what the first review found ----------------------------------------------------------------

def test_escalation_from_every_handling_status_and_never_from_the_others():
    for status in domain.HANDLING:
        case, _ = registered()
        case["status"] = status
        assert types(domain.escalate(case, COUNTY, RULES, "超出权限", T0)) == ["case.escalated", "case.assigned"]
    for status in ("resolved", "followed_up", "under_review", "closed", "not_accepted"):
        case, _ = registered()
        case["status"] = status
        with pytest.raises(domain.Refused):
            domain.escalate(case, COUNTY, RULES, "超出权限", T0)


def test_the_dispatcher_cannot_send_an_escalated_case_back_down():
    case, _ = registered()
    domain.escalate(case, COUNTY, RULES, "超出村级权限", T0)
    domain.return_case(case, COUNTY, "不属综治中心", HANDLER, T0)
    with pytest.raises(domain.Invalid, match="village body"):
        domain.reassign(case, COUNTY, "QS01-MEDIATION", "退回村里", CLERK, T0)
    assert domain.reassign(case, COUNTY, "QS-JUDICIAL", "转司法所", CLERK, T0)[0].data["tier"] == "township"


def test_after_a_redo_the_review_window_runs_from_the_new_reply():
    case = in_progress()
    domain.extend(case, COUNTY, 10, 30, "QS-LIUXF", "鉴定", T0)
    domain.resolve(case, "explained", "答复", HANDLER, T0)
    domain.follow_up(case, "unsatisfied", None, CLERK, T0)
    domain.request_review(case, "不服", T0 + timedelta(days=5))
    domain.decide_review(case, "redo", "重新办理", LEADER, T0 + timedelta(days=10))
    assert case["extension"] is None  # handled anew: a new handling deadline, which may be extended once
    replied = T0 + timedelta(days=60)
    domain.resolve(case, "demand_met", "重新答复", HANDLER, replied)
    domain.follow_up(case, "unsatisfied", None, CLERK, replied)
    with pytest.raises(domain.Refused, match="may still request a review"):
        domain.close(case, replied + timedelta(days=20))
    assert domain.request_review(case, "仍不服", replied + timedelta(days=20))[0].data["stage"] == "re_review"


def test_lowering_the_risk_to_blue_releases_the_leader_and_a_closed_case_keeps_its_colour():
    case, _ = registered(petitioner_count=6)
    assert case["leader"] is not None
    domain.reassess_risk(case, COUNTY, RULES, T0, by="QS-leader", level="blue", reason="已化解稳控")
    assert case["leader"] is None and case["responsible"] is None
    domain.sign(case, HANDLER, T0)
    domain.not_accept(case, COUNTY, "已起诉", "litigation", HANDLER, T0)
    domain.close(case, T0)
    with pytest.raises(domain.Refused, match="closed"):
        domain.reassess_risk(case, COUNTY, RULES, T0, by="QS-leader", level="red", reason="x")
    case["repeat_count"] = 9
    assert domain.reassess_risk(case, COUNTY, RULES, T0) == []


def test_whistles_end_with_the_handling_and_take_no_late_reports():
    case = in_progress()
    whistle, _ = domain.raise_whistle(case, COUNTY, ["QS-LAND"], "违建", HANDLER, T0)
    assert domain.close_whistles(case, [whistle], T0) == []  # still in handling
    domain.resolve(case, "demand_met", "答复", HANDLER, T0)
    assert domain.close_whistles(case, [whistle], T0) == [whistle] and whistle["status"] == "closed"
    with pytest.raises(domain.Refused):
        domain.answer_whistle(case, COUNTY, whistle, "QS-LAND", LAND, T0)


def test_a_missed_deadline_escalates_a_case_in_handling_once_and_marks_its_whistle():
    case = in_progress()
    whistle, _ = domain.raise_whistle(case, COUNTY, ["QS-LAND"], "违建", HANDLER, T0)
    facts = domain.deadline_missed(case, COUNTY, RULES, "whistle_report", "2026-03-03T01:00:00+00:00", T0, whistle)
    assert types(facts) == ["case.risk_changed", "case.escalated", "case.assigned"]
    assert whistle["status"] == "escalated" and case["overdue"] and case["tier"] == "township"
    assert "whistle_report missed" in facts[1].data["why"]
    resolved = in_progress()
    domain.resolve(resolved, "demand_met", "答复", HANDLER, T0)
    assert domain.deadline_missed(resolved, COUNTY, RULES, "follow_up", "x", T0) == []


def test_a_case_no_rule_can_place_goes_to_the_dispatcher():
    case = domain.new_case({"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "number": "QS-2026-000009",
                            "township": "QS", "location": "QS99", "category": "neighbour_dispute",
                            "channel_class": "civil_dispute", "subject": "s", "petitioner_count": 1}, T0)
    with pytest.raises(rules.NoRoute) as err:
        rules.route(COUNTY, RULES, case)
    facts = domain.unroutable(case, str(err.value), T0)
    assert types(facts) == ["case.returned"] and facts[0].data["body"] is None and "QS99" in facts[0].data["reason"]
    with pytest.raises(domain.Refused, match="dispatcher assigns it first"):
        domain.escalate(case, COUNTY, RULES, "x", T0)
    assert domain.reassign(case, COUNTY, "QS-JUDICIAL", "人工分派", CLERK, T0)[0].data["body"] == "QS-JUDICIAL"


# --- mediation (调解) of the owning body ----------------------------------------------------------

def mediation_event(outcome=None, body="QS01-MEDIATION", **data):
    base = {"file_number": "QS-2026-000001-M1", "mediating_body": body, "outcome": outcome,
            "terms": [{"party": "李某某", "obligation": "拆除占道院墙", "due": "2026-03-20"}],
            "guided_to": "litigation", "guided_to_label": "向人民法院提起诉讼"}
    return {**base, **data}


def test_a_file_opened_by_the_owning_body_signs_for_and_accepts_the_case():
    case, _ = registered()
    assert domain.mediation_opened(case, mediation_event(body="QS-JUDICIAL"), T0) == []  # someone else's file
    facts = domain.mediation_opened(case, mediation_event(), T0)
    assert types(facts) == ["case.signed", "case.accepted"] and case["status"] == "in_progress"
    assert facts[0].data["signed_by"] == "mediation QS-2026-000001-M1"
    assert domain.mediation_opened(case, mediation_event(), T0) == []  # taken already


def test_an_agreement_resolves_the_case_and_a_red_case_waits_for_its_consultation():
    case, _ = registered()
    facts = domain.mediation_concluded(case, COUNTY, mediation_event("agreement"), T0)
    assert types(facts) == ["case.signed", "case.accepted", "case.resolved"]
    assert "李某某于2026-03-20前拆除占道院墙" in case["resolution"]["reply"]
    red = in_progress(description="扬言要喝农药")  # red: the township judicial office has it
    assert domain.mediation_concluded(red, COUNTY, mediation_event("agreement", body=red["body"]), T0) == []
    assert red["status"] == "in_progress" and red["mediation"]["outcome"] == "agreement"


def test_a_failed_mediation_goes_up_from_the_village_and_is_resolved_above_it():
    village, _ = registered()
    facts = domain.mediation_concluded(village, COUNTY, mediation_event("no_agreement"), T0)
    assert types(facts) == ["case.escalated", "case.assigned"] and village["body"] == "QS-JUDICIAL"
    assert village["tier"] == "township" and "guided to 向人民法院提起诉讼" in facts[0].data["why"]
    township = in_progress(petitioner_count=6)  # 大事: the township judicial office has it
    assert township["body"] == "QS-JUDICIAL"
    facts = domain.mediation_concluded(township, COUNTY, mediation_event("no_agreement", body="QS-JUDICIAL"), T0)
    assert types(facts) == ["case.resolved"] and facts[0].data["outcome"] == "explained"
    assert "引导当事人向人民法院提起诉讼" in facts[0].data["reply"]


def test_a_withdrawal_a_transfer_or_another_body_s_file_leaves_the_case_alone():
    case = in_progress()
    assert domain.mediation_concluded(case, COUNTY, mediation_event("withdrawn"), T0) == []
    assert domain.mediation_concluded(case, COUNTY, mediation_event("transferred"), T0) == []
    assert domain.mediation_concluded(case, COUNTY, mediation_event("agreement", body="QS-JUDICIAL"), T0) == []
    assert case["status"] == "in_progress"
