from datetime import datetime, timedelta, timezone

import pytest

from fengqiao import access
from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from services.intake import domain
from services.intake.schemas import CaseRegistrationSchema

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")
PERSON = {"name": "王某某", "id_number": "44052419500101001x", "phone": "+86 138 0013 8000"}
BASE = {"channel": "visit", "location": "QS01-G2", "category": "land_dispute",
        "subject": " 地界 ", "description": "两户地界争议", "petitioners": [PERSON]}


def reg(**change):
    """A registration as the HTTP edge hands it to the domain."""
    return CaseRegistrationSchema().load({**BASE, **change})


def rejected(**change):
    with pytest.raises(domain.Rejected) as err:
        domain.new_case(COUNTY, reg(**change))
    return err.value.errors


def test_a_case_takes_its_township_place_and_channel_class_from_the_county():
    case = domain.new_case(COUNTY, reg())
    assert case["township"] == "QS" and case["location"] == "QS01-G2" and case["place"] == "QS01"
    assert case["channel_class"] == "civil_dispute" and case["subject"] == "地界"
    assert case["petitioners"][0]["phone"] == "13800138000"
    assert case["petitioners"][0]["id_number"] == "44052419500101001X"


@pytest.mark.parametrize("change, field", [
    ({"location": "SH"}, "location"),          # the county itself is no place for a case
    ({"location": "XX99"}, "location"),
    ({"category": "alchemy"}, "category"),
])
def test_places_and_categories_must_exist_in_the_county(change, field):
    assert set(rejected(**change)) == {field}


def test_a_case_cannot_be_received_in_the_future():
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    with pytest.raises(domain.Rejected):
        domain.new_case(COUNTY, reg(received_at=(now + timedelta(minutes=5)).isoformat()), now=now)


def test_numbers_count_by_registration_year_in_county_time():
    # 16:30 UTC on 31 December is already 1 January in Asia/Shanghai
    case = domain.new_case(COUNTY, reg(), now=datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc))
    assert domain.number_year(COUNTY, case) == 2027
    assert domain.case_number("QS", 2027, 42) == "QS-2027-000042"


@pytest.mark.parametrize("change, field", [
    ({"channel": "hotline"}, "hotline"),                                   # needs its order id
    ({"hotline": {"order_id": "H1"}}, "hotline"),                          # only for the hotline
    ({"channel": "referral"}, "referral"),
    ({"channel": "grid_report", "petitioners": [], "grid_report": {"grid_worker": "李", "grid": "QS01"}},
     "grid_report.grid"),                                                  # a village is no grid
    ({"channel": "proxy", "proxy": {"agent": "赵代办", "consent": False}}, "proxy.consent"),
    ({"petitioners": []}, "petitioners"),                                  # a visitor has a name
    ({"anonymous": True}, "anonymous"),                                    # ... and cannot hide it
    ({"channel": "letter", "anonymous": True}, "anonymous"),               # anonymous lists nobody
])
def test_each_channel_brings_what_it_needs_and_nothing_else(change, field):
    assert field in rejected(**change)


@pytest.mark.parametrize("change", [
    {"channel": "hotline", "hotline": {"order_id": "12345-2026-000777"}, "petitioners": [], "anonymous": True},
    {"channel": "grid_report", "petitioners": [], "grid_report": {"grid_worker": "李网格", "grid": "QS01-G2"}},
    {"channel": "proxy", "proxy": {"agent": "赵代办", "consent": True, "consent_note": "本人签字同意"}},
    {"channel": "referral", "referral": {"source_body": "县信访局", "document_number": "松信转〔2026〕12号"}},
    {"channel": "letter", "petitioners": [], "anonymous": True},
])
def test_every_channel_registers_with_its_details(change):
    case = domain.new_case(COUNTY, reg(**change))
    block = domain.CHANNEL_DETAILS.get(case["channel"])
    assert case["details"] == (change[block] if block else {})


def test_five_petitioners_make_a_collective_petition():
    four = [{**PERSON, "id_number": None, "name": f"村民{i}"} for i in range(4)]
    assert not domain.new_case(COUNTY, reg(petitioners=four))["collective"]
    assert domain.new_case(COUNTY, reg(petitioners=four + [PERSON]))["collective"]


def test_events_carry_personal_data_masked():
    case = {**domain.new_case(COUNTY, reg()), "number": "QS-2026-000001"}
    data = domain.registered_event(case)
    assert data["petitioners"] == [{"name": "王某某", "id_number": "****001X", "phone": "****8000"}]
    assert "13800138000" not in str(data) and "44052419500101001X" not in str(data)


def test_a_discipline_reports_events_carry_no_text_and_no_petitioner():
    case = {**domain.new_case(COUNTY, reg(category="cadre_misconduct")), "number": "QS-2026-000001"}
    assert case["channel_class"] == "discipline"
    data = domain.registered_event(case)
    assert (data["subject"], data["description"], data["petitioners"]) == (access.WITHHELD, "", [])
    assert data["petitioner_count"] == 1 and "王某某" not in str(data) and case["subject"] not in str(data)
    repeat = domain.repeat_linked_event({**case, "repeat_count": 1}, case)
    assert repeat["petitioners"] == [] and "王某某" not in str(repeat)


def test_the_category_proposes_the_class_and_an_override_needs_a_reason():
    case = domain.new_case(COUNTY, reg())
    assert case["channel_class"] == case["proposed_channel_class"] == "civil_dispute"
    assert "channel_class_reason" in rejected(channel_class="petition")
    overridden = domain.new_case(COUNTY, reg(channel_class="petition", channel_class_reason="涉及多户，按信访诉求办理"))
    assert overridden["channel_class"] == "petition" and overridden["proposed_channel_class"] == "civil_dispute"


def test_guidance_leads_only_outside_the_petition_system():
    assert "guided_to.route" in rejected(guided_to={"route": "petition_handling"})
    assert "guided_to.route" in rejected(guided_to={"route": "nowhere"})
    case = domain.new_case(COUNTY, reg(category="wage_arrears", guided_to={"route": "arbitration", "note": "已告知"}))
    assert case["guided_to"]["label"] == "申请仲裁" and "仲裁法" in case["guided_to"]["legal_basis"]
