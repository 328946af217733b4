from datetime import datetime, timedelta, timezone

import pytest

from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from services.intake import domain

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")
REG = {"channel": "visit", "location": "QS01-G2", "category": "land_dispute",
       "subject": " 地界 ", "description": "两户地界争议"}


def test_a_case_takes_its_township_and_channel_class_from_the_county():
    case = domain.new_case(COUNTY, REG)
    assert case["township"] == "QS" and case["location"] == "QS01-G2"
    assert case["channel_class"] == "civil_dispute" and case["subject"] == "地界"


@pytest.mark.parametrize("change, field", [
    ({"location": "SH"}, "location"),          # the county itself is no place for a case
    ({"location": "XX99"}, "location"),
    ({"category": "alchemy"}, "category"),
])
def test_places_and_categories_must_exist_in_the_county(change, field):
    with pytest.raises(domain.Rejected) as err:
        domain.new_case(COUNTY, {**REG, **change})
    assert set(err.value.errors) == {field}


def test_a_case_cannot_be_received_in_the_future():
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    with pytest.raises(domain.Rejected):
        domain.new_case(COUNTY, {**REG, "received_at": now + timedelta(minutes=5)}, now=now)


def test_numbers_count_by_registration_year_in_county_time():
    # 16:30 UTC on 31 December is already 1 January in Asia/Shanghai
    case = domain.new_case(COUNTY, REG, now=datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc))
    assert domain.number_year(COUNTY, case) == 2027
    assert domain.case_number("QS", 2027, 42) == "QS-2027-000042"
