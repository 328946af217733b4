import pytest
import yaml

from fengqiao.config import REPO_ROOT
from fengqiao.county import load, parse
from services.routing.domain import NoBody, pick_body

SAMPLE = REPO_ROOT / "deploy/county/sample-county.yaml"
COUNTY = load(SAMPLE)


@pytest.mark.parametrize("location, category, body", [
    ("QS01", "neighbour_dispute", "QS01-MEDIATION"),   # small matters stay in the village
    ("QS01-G1", "marriage_family", "QS01-MEDIATION"),
    ("QS01", "land_dispute", "QS-JUDICIAL"),           # the village committee does not list it
    ("BY", "wage_arrears", "BY-LABOUR"),
    ("DS03", "traffic_accident", "SH-TRAFFIC-MEDIATION"),  # only the county has that body
    ("DS", "cadre_misconduct", "DS-DISCIPLINE"),
])
def test_the_nearest_body_listing_the_category_takes_the_case(location, category, body):
    chosen, reason = pick_body(COUNTY, location, category)
    assert chosen.code == body
    assert category in reason and body in reason


def test_without_a_listing_body_the_township_petition_office_takes_it():
    raw = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    raw["categories"].append({"code": "unlisted", "label": "无人认领", "channel_class": "petition", "lawful_route": "petition_handling"})
    county = parse(raw, "test")
    chosen, reason = pick_body(county, "BY02", "unlisted")
    assert chosen.code == "BY-PETITION" and "petition office" in reason


def test_no_petition_office_no_fallback():
    raw = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    raw["categories"].append({"code": "unlisted", "label": "无人认领", "channel_class": "petition", "lawful_route": "petition_handling"})
    raw["townships"][1]["bodies"] = [b for b in raw["townships"][1]["bodies"] if b["kind"] != "petition_office"]
    with pytest.raises(NoBody):
        pick_body(parse(raw, "test"), "BY02", "unlisted")
