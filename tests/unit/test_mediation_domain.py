"""A mediation file, verb by verb (services/mediation/domain.py), on the sample county: opening,
mediators by load, parties, sessions, the paused clock, each outcome and the refused commands."""
from datetime import date, datetime, timedelta, timezone

import pytest

from fengqiao import deadlines
from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from services.mediation import domain

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
DEADLINES = deadlines.load(REPO_ROOT / "deploy/county/deadlines.yaml")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 2)
CASE = {"id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "number": "QS-2026-000001", "township": "QS",
        "location": "QS01", "subject": "院墙占道", "description": "邻居扩建院墙占用通道", "correlationid": "c-1"}
TERMS = [{"party": "李某某", "obligation": "拆除占道院墙", "due": date(2026, 3, 20)},
         {"party": "王某某", "obligation": "承担一半拆除费用", "due": date(2026, 3, 25)}]


def opened(body="QS01-MEDIATION", kind="people", complexity="ordinary", joint=(), parties=None, mediators=("QS-XUCS",)):
    parties = [{"name": "王某某", "role": "applicant"}] if parties is None else parties
    return domain.open_file(CASE, "QS-2026-000001-M1", COUNTY, body, kind, complexity, list(joint), parties,
                            list(mediators), "routing", T0)


def types(facts):
    return [f.type for f in facts]


def held(file):
    domain.add_party(file, "李某某", "respondent", "QS-XUCS", T0)
    session, _ = domain.schedule_session(file, T0 + timedelta(days=1), "柳湾村调解室", [], [], "QS-XUCS", T0)
    domain.hold_session(file, session["id"], ["王某某", "李某某"], "双方陈述意见", "QS-XUCS", T0)
    return file


@pytest.mark.parametrize("body, co, expected", [
    ("QS01-MEDIATION", [], ("people", [])),
    ("QS-JUDICIAL", [], ("people", [])),
    ("QS-POLICE-MEDIATION", ["QS-JUDICIAL"], ("joint", ["QS-JUDICIAL"])),  # 警民联调 with the judicial office
    ("SH-TRAFFIC-MEDIATION", [], ("industry", [])),
    ("SH-LABOUR-MEDIATION", [], ("industry", [])),
    ("QS-PETITION", [], None),   # a petition office does not mediate
    ("QS-LAND", [], None),
])
def test_which_assignments_open_which_kind_of_file(body, co, expected):
    assert domain.kind_for_assignment(COUNTY, body, co) == expected


def test_opening_names_the_file_its_case_its_kind_and_its_people():
    file, facts = opened()
    assert types(facts) == ["mediation.opened"] and file["status"] == "open"
    data = facts[0].data
    assert (data["number"], data["file_number"], data["kind_label"]) == ("QS-2026-000001", "QS-2026-000001-M1", "人民调解")
    assert data["mediators"] == ["QS-XUCS"] and data["parties"] == [{"name": "王某某", "role": "applicant"}]
    assert "status" not in data and data["file_status"] == "open"  # never mistaken for the case's status


@pytest.mark.parametrize("kwargs, field", [
    ({"body": "QS-NOPE"}, "body"),
    ({"kind": "joint"}, "joint_bodies"),                      # joint mediation names the other bodies
    ({"joint": ["QS01-MEDIATION"]}, "joint_bodies"),          # not the lead body itself
    ({"mediators": ["QS-HUANGWD"]}, "mediators"),             # a judicial-office handler, no mediator here
    ({"mediators": ["QS-TANGDS"]}, "mediators"),              # a mediator, but of another body
])
def test_opening_refuses_what_does_not_fit(kwargs, field):
    with pytest.raises(domain.Invalid) as err:
        opened(**kwargs)
    assert field in err.value.errors


def test_mediators_are_picked_by_their_current_load():
    assert domain.pick_mediators(COUNTY, ["QS-JUDICIAL"], {}) == ["QS-SONGGL"]
    assert domain.pick_mediators(COUNTY, ["QS-JUDICIAL"], {"QS-SONGGL": 3, "QS-TANGDS": 1}) == ["QS-TANGDS"]
    assert domain.pick_mediators(COUNTY, ["QS-JUDICIAL"], {"QS-SONGGL": 1}, count=2) == ["QS-TANGDS", "QS-SONGGL"]
    assert domain.pick_mediators(COUNTY, ["QS-LAND"], {}) == []


def test_mediators_change_with_a_reason_and_only_to_mediators_of_the_body():
    file, _ = opened()
    facts = domain.change_mediators(file, COUNTY, ["QS-GAOXM"], "原调解员回避", "QS-XUCS", T0)
    assert facts[0].data["previous"] == ["QS-XUCS"] and file["mediators"] == ["QS-GAOXM"]
    assert file["changes"][0]["reason"] == "原调解员回避"
    with pytest.raises(domain.Invalid):
        domain.change_mediators(file, COUNTY, ["SH-ANXM"], "换人", "QS-XUCS", T0)


def test_a_registration_arriving_late_fills_in_what_the_file_lacks_and_nothing_else():
    file, _ = opened(parties=[])
    file["subject"] = None
    domain.fill_from_registration(file, {"subject": "院墙占道", "petitioners": [{"name": "王某某", "phone": "****8000"}]})
    assert file["subject"] == "院墙占道" and file["parties"] == [{"name": "王某某", "role": "applicant"}]
    domain.fill_from_registration(file, {"subject": "别的", "petitioners": [{"name": "另一人"}]})
    assert file["subject"] == "院墙占道" and len(file["parties"]) == 1


def test_sessions_are_scheduled_held_or_cancelled_once():
    file, _ = opened()
    domain.add_party(file, "李某某", "respondent", "QS-XUCS", T0)
    session, facts = domain.schedule_session(file, T0 + timedelta(days=1), "调解室", [], [], "QS-XUCS", T0)
    assert facts[0].data["parties"] == ["李某某", "王某某"] and facts[0].data["mediators"] == ["QS-XUCS"]
    with pytest.raises(domain.Invalid) as err:
        domain.schedule_session(file, T0, "调解室", ["QS-GAOXM"], ["张三"], "QS-XUCS", T0)
    assert set(err.value.errors) == {"mediators", "parties"}
    assert types(domain.hold_session(file, session["id"], ["王某某"], "笔录", "QS-XUCS", T0)) == ["mediation.session_held"]
    with pytest.raises(domain.Refused, match="held"):
        domain.cancel_session(file, session["id"], "改期", "QS-XUCS", T0)
    with pytest.raises(LookupError):
        domain.hold_session(file, "no-such-session", ["王某某"], "笔录", "QS-XUCS", T0)


def test_the_clock_pauses_for_an_appraisal_and_resumes():
    file, _ = opened()
    with pytest.raises(domain.Invalid):
        domain.pause(file, "lunch", "午休", "QS-XUCS", T0)
    assert types(domain.pause(file, "appraisal", "测绘鉴定", "QS-XUCS", T0)) == ["mediation.paused"]
    with pytest.raises(domain.Refused):
        domain.pause(file, "hearing", "再停", "QS-XUCS", T0)
    resumed = domain.resume(file, "QS-XUCS", T0 + timedelta(days=3))
    assert resumed[0].data["paused_at"] == T0.isoformat() and file["status"] == "open"
    assert file["pauses"][0]["resumed_at"] == (T0 + timedelta(days=3)).isoformat()


def test_the_file_clock_follows_the_shipped_policies():
    """Ordinary 5 days, complex 15; paused by mediation.paused, resumed, stopped on conclusion."""
    ordinary, complex_ = (DEADLINES.policies[domain.COMPLEXITY_POLICY[c]] for c in ("ordinary", "complex"))
    assert (ordinary.duration, complex_.duration) == (5, 15)
    for event, action in (("mediation.paused", "pause"), ("mediation.resumed", "resume"), ("mediation.concluded", "stop")):
        assert ordinary.action_on(event) == complex_.action_on(event) == action
    state = {"started_at": T0, "paused_at": None, "paused_seconds": 0, "stopped_at": None, "reminders_sent": [],
             "overdue_days_sent": -1}
    # 2 March + 5 days is Saturday 7 March: due at 24:00 of Monday 9 March; 15 days: 17 March
    later = datetime(2026, 3, 10, 1, 0, tzinfo=timezone.utc)
    for policy, overdue in ((ordinary, True), (complex_, False)):
        s = {**state, "due_at": deadlines.due_at(policy, T0, DEADLINES.calendar)}
        assert (deadlines.overdue_due(s, later) is not None) is overdue
        assert deadlines.overdue_due(s, later - timedelta(hours=10)) is None  # 9 March, 19:00 county time


def test_an_agreement_needs_a_session_held_two_parties_facts_and_terms_of_parties():
    file, _ = opened()
    with pytest.raises(domain.Refused, match="no session was held"):
        domain.conclude(file, COUNTY, "agreement", TODAY, T0, "QS-XUCS", "事实", TERMS)
    session, _ = domain.schedule_session(file, T0, "调解室", [], [], "QS-XUCS", T0)
    domain.hold_session(file, session["id"], ["王某某"], "笔录", "QS-XUCS", T0)
    with pytest.raises(domain.Invalid) as err:
        domain.conclude(file, COUNTY, "agreement", TODAY, T0, "QS-XUCS", "事实", TERMS)
    assert "parties" in err.value.errors
    domain.add_party(file, "李某某", "respondent", "QS-XUCS", T0)
    with pytest.raises(domain.Invalid, match="张三"):
        domain.conclude(file, COUNTY, "agreement", TODAY, T0, "QS-XUCS", "事实", [{**TERMS[0], "party": "张三"}])
    facts = domain.conclude(file, COUNTY, "agreement", TODAY, T0, "QS-XUCS", "事实", TERMS, judicial_confirmation=True)
    data = facts[0].data
    assert types(facts) == ["mediation.concluded"] and file["status"] == "concluded"
    assert (data["outcome"], data["performance_due"], data["judicial_confirmation"]) == ("agreement", "2026-03-25", True)
    assert domain.performance_due(file) == date(2026, 3, 25)
    with pytest.raises(domain.Refused):
        domain.add_party(file, "张三", "third_party", "QS-XUCS", T0)


def test_no_agreement_guides_the_parties_and_withdrawal_needs_no_session():
    file = held(opened()[0])
    with pytest.raises(domain.Invalid):
        domain.conclude(file, COUNTY, "no_agreement", TODAY, T0, "QS-XUCS", guided_to="the_moon")
    data = domain.conclude(file, COUNTY, "no_agreement", TODAY, T0, "QS-XUCS", guided_to="litigation")[0].data
    assert data["guided_to_label"] == "向人民法院提起诉讼" and "terms" not in data
    assert domain.performance_due(file) is None
    withdrawn, _ = opened()
    assert domain.conclude(withdrawn, COUNTY, "withdrawn", TODAY, T0, "QS-XUCS", note="申请人撤回")[0].data["outcome"] == "withdrawn"


def test_the_performance_of_an_agreement_is_checked_once():
    file = held(opened()[0])
    domain.conclude(file, COUNTY, "agreement", TODAY, T0, "QS-XUCS", "事实", TERMS)
    facts = domain.check_performance(file, False, "未按期拆除", "QS-XUCS", T0 + timedelta(days=30))
    assert facts[0].data["kept"] is False and file["performance"]["note"] == "未按期拆除"
    with pytest.raises(domain.Refused, match="checked already"):
        domain.check_performance(file, True, "已拆除", "QS-XUCS", T0)
    failed = held(opened()[0])
    domain.conclude(failed, COUNTY, "no_agreement", TODAY, T0, "QS-XUCS", guided_to="arbitration")
    with pytest.raises(domain.Refused, match="only a concluded agreement"):
        domain.check_performance(failed, True, "x", "QS-XUCS", T0)


def test_complexity_changes_with_a_reason():
    file, _ = opened()
    facts = domain.change_complexity(file, "complex", "涉及宅基地确权", "QS-XUCS", T0)
    assert (facts[0].data["from"], facts[0].data["to"]) == ("ordinary", "complex")
    with pytest.raises(domain.Refused, match="complex already"):
        domain.change_complexity(file, "complex", "again", "QS-XUCS", T0)


def test_monthly_counts_and_success_rate_per_mediator():
    rows = [{"mediator": "QS-XUCS", "outcome": o} for o in ("agreement", "agreement", "no_agreement", "withdrawn")]
    rows += [{"mediator": "QS-GAOXM", "outcome": "withdrawn"}]
    xu, gao = domain.monthly_counts(rows)
    assert (xu["mediator"], xu["concluded"], xu["agreement"], xu["success_rate"]) == ("QS-XUCS", 4, 2, 0.667)
    assert (gao["concluded"], gao["success_rate"]) == (1, None)  # nothing mediated to an end


def test_a_file_ends_when_its_case_leaves_the_mediating_body():
    file, _ = opened()
    domain.pause(file, "appraisal", "测绘鉴定", "QS-XUCS", T0)
    facts = domain.case_left(file, "the case was assigned to 清水镇综治中心", T0 + timedelta(days=1))
    data = facts[0].data
    assert (data["outcome"], data["concluded_by"], file["status"]) == ("transferred", "routing", "concluded")
    assert file["pauses"][0]["ended_at"]  # the appraisal is cut short with it
    with pytest.raises(domain.Refused):
        domain.case_left(file, "again", T0)
    assert domain.monthly_counts([{"mediator": "QS-XUCS", "outcome": "transferred"}]) == []


def test_an_applicant_arriving_late_joins_a_respondent_added_first():
    file, _ = opened(parties=[])
    domain.add_party(file, "李某某", "respondent", "QS-XUCS", T0)
    domain.fill_from_registration(file, {"petitioners": [{"name": "王某某"}]})
    assert file["parties"] == [{"name": "王某某", "role": "applicant"}, {"name": "李某某", "role": "respondent"}]


def test_terms_are_not_due_in_the_past_and_a_file_without_mediators_cannot_conclude():
    file = held(opened()[0])
    with pytest.raises(domain.Invalid, match="before today"):
        domain.conclude(file, COUNTY, "agreement", date(2026, 3, 21), T0, "QS-XUCS", "事实", TERMS)
    lonely = held(opened()[0])
    lonely["mediators"] = []
    with pytest.raises(domain.Refused, match="no mediator"):
        domain.conclude(lonely, COUNTY, "no_agreement", TODAY, T0, "QS-XUCS", guided_to="litigation")


def test_the_lawful_routes_are_the_county_s_outside_the_petition_system():
    for route, label in (("administrative_ruling", "申请行政裁决"), ("arbitration", "申请仲裁")):
        file = held(opened()[0])
        assert domain.conclude(file, COUNTY, "no_agreement", TODAY, T0, "QS-XUCS", guided_to=route)[0].data[
            "guided_to_label"] == label
    with pytest.raises(domain.Invalid, match="litigation"):
        domain.conclude(held(opened()[0]), COUNTY, "no_agreement", TODAY, T0, "QS-XUCS", guided_to="petition_handling")
