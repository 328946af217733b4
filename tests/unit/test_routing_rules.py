"""Routing and risk rules (deploy/county/rules.yaml) on the sample county: each default rule of
SPEC 1.5 routes a representative case to the right body and tier with its reason; each risk
rule gives its colour; the explanation says why; bad rule files are refused by entry."""
import pytest

from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from services.routing import rules

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
RULES = rules.load(REPO_ROOT / "deploy/county/rules.yaml")


def case(**over):
    base = {"number": "QS-2026-000001", "location": "QS01", "category": "neighbour_dispute",
            "channel_class": "civil_dispute", "risk": "blue", "petitioner_count": 1,
            "subject": "院墙占道", "description": "邻居扩建院墙占用通道"}
    return {**base, **over}


@pytest.mark.parametrize("over, rule, lead, tier", [
    ({"channel_class": "discipline", "category": "cadre_misconduct"}, "discipline-report", "QS-DISCIPLINE", "township"),
    ({"channel_class": "litigation", "category": "court_case"}, "litigation-related", "SH-COURT-WINDOW", "county"),
    ({"description": "邻居因院墙纠纷动手打架"}, "police-matter", "QS-POLICE-MEDIATION", "township"),
    ({"category": "traffic_accident"}, "traffic-dispute", "SH-TRAFFIC-MEDIATION", "county"),
    ({"category": "wage_arrears"}, "labour-dispute", "SH-LABOUR-MEDIATION", "county"),
    ({}, "small-matter-in-the-village", "QS01-MEDIATION", "village"),
    ({"location": "QS01-G2"}, "small-matter-in-the-village", "QS01-MEDIATION", "village"),
    ({"risk": "yellow"}, "dispute-to-the-judicial-office", "QS-JUDICIAL", "township"),
    ({"petitioner_count": 6}, "dispute-to-the-judicial-office", "QS-JUDICIAL", "township"),
    ({"location": "QS"}, "dispute-to-the-judicial-office", "QS-JUDICIAL", "township"),
    ({"category": "land_dispute"}, "dispute-to-the-judicial-office", "QS-JUDICIAL", "township"),
    ({"channel_class": "administrative", "category": "illegal_construction"}, "administrative-duty", "QS-LAND", "township"),
    ({"channel_class": "administrative", "category": "wage_arrears", "location": "BY02"}, "administrative-duty",
     "BY-LABOUR", "township"),
    ({"channel_class": "petition", "category": "land_acquisition"}, "petition", "QS-PETITION", "township"),
])
def test_each_default_rule_routes_to_its_body_and_tier_with_its_reason(over, rule, lead, tier):
    decision = rules.route(COUNTY, RULES, case(**over))
    assert (decision.rule, decision.lead.code, decision.tier) == (rule, lead, tier)
    assert rule in decision.reason and lead in decision.reason


def test_discipline_reports_are_confidential_and_petitions_name_the_owning_body_as_co_handler():
    assert rules.route(COUNTY, RULES, case(channel_class="discipline", category="cadre_misconduct")).confidential
    petition = rules.route(COUNTY, RULES, case(channel_class="petition", category="illegal_construction"))
    assert [b.code for b in petition.co] == ["QS-LAND"] and not petition.confidential


def test_a_rule_whose_body_is_missing_at_the_place_falls_through_and_says_so():
    raw = {"routing": [{"name": "nowhere", "when": {}, "lead": {"kind": "ministry"}},
                       {"name": "petition-office", "when": {}, "lead": {"kind": "petition_office"}}]}
    decision, trail = rules.explain(COUNTY, rules.parse(raw, "t.yaml"), case())
    assert decision.rule == "petition-office"
    assert trail[0]["matched"] is False and "no ministry at or above QS01" in trail[0]["skipped"]


def test_the_explanation_lists_each_rule_tried_with_each_condition():
    decision, trail = rules.explain(COUNTY, RULES, case(petitioner_count=6))
    assert decision.rule == "dispute-to-the-judicial-office"
    names = [step["rule"] for step in trail]
    assert names[:2] == ["discipline-report", "litigation-related"] and names[-1] == decision.rule
    village = next(s for s in trail if s["rule"] == "small-matter-in-the-village")
    failed = [c for c in village["conditions"] if not c["holds"]]
    assert failed == [{"condition": "max_petitioners 4", "holds": False, "seen": "petitioners 6"}]


@pytest.mark.parametrize("over, colour, reason", [
    ({}, "blue", None),
    ({"description": "扬言要去北京上访，进京讨说法"}, "red", "threat-of-extreme-acts"),
    ({"petitioner_count": 20}, "red", "twenty-or-more-petitioners"),
    ({"age_days": 400, "repeat_count": 3}, "red", "old-backlog-repeated"),
    ({"age_days": 400, "repeat_count": 2}, "yellow", "repeat-petition"),
    ({"petitioner_count": 5}, "yellow", "collective-petition"),
    ({"repeat_count": 1}, "yellow", "repeat-petition"),
    ({"category": "wage_arrears", "petitioner_count": 3}, "yellow", "acquisition-or-wages-affecting-many"),
    ({"overdue": True}, "yellow", "deadline-missed"),
])
def test_risk_rules_give_each_colour_with_the_reason(over, colour, reason):
    level, reasons = rules.assess_risk(RULES, rules.facts_of(COUNTY, case(**over)))
    assert level == colour
    assert (reasons == []) if reason is None else any(r.startswith(reason) for r in reasons)


@pytest.mark.parametrize("tier, body, up", [
    ("village", "QS-GOVCENTER", "township"),
    ("township", "SH-POLITICAL-LEGAL", "county"),
])
def test_escalation_goes_one_tier_up(tier, body, up):
    target, lands = rules.escalation_target(COUNTY, RULES, "QS", tier)
    assert (target.code, lands) == (body, up)
    assert rules.escalation_target(COUNTY, RULES, "QS", "county") is None


@pytest.mark.parametrize("raw, message", [
    ({"routing": []}, "routing: at least one rule"),
    ({"routing": [{"name": "a", "when": {"colour": ["red"]}, "lead": {"kind": "x"}}]},
     r"routing\[0\] \(a\).when: unknown conditions colour"),
    ({"routing": [{"name": "a", "when": {"risk": ["purple"]}, "lead": {"kind": "x"}}]},
     r"routing\[0\] \(a\).when.risk: unknown purple"),
    ({"routing": [{"name": "a", "when": {}, "lead": {}}]}, r"routing\[0\] \(a\).lead: needs a 'kind'"),
    ({"routing": [{"name": "a", "when": {"max_petitioners": "four"}, "lead": {"kind": "x"}}]},
     r"when.max_petitioners: expected a whole number"),
    ({"routing": [{"name": "a", "lead": {"kind": "x"}}, {"name": "a", "lead": {"kind": "y"}}]}, "duplicate rule name"),
    ({"routing": [{"name": "a", "lead": {"kind": "x"}}], "risk": [{"name": "r", "level": "orange"}]},
     r"risk\[0\] \(r\): level must be one of blue, yellow, red"),
    ({"routing": [{"name": "a", "lead": {"kind": "x"}}], "escalation": {"province": []}},
     "escalation.province: tier must be one of"),
])
def test_bad_rule_files_are_refused_naming_the_entry(raw, message):
    with pytest.raises(rules.RulesError, match=f"rules.yaml: .*{message}"):
        rules.parse(raw, "rules.yaml")
