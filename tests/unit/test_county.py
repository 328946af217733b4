import pytest
import yaml

from fengqiao.config import REPO_ROOT
from fengqiao.county import CountyConfigError, load, parse

SAMPLE = REPO_ROOT / "deploy/county/sample-county.yaml"


def test_the_sample_county_is_realistic_and_valid():
    county = load(SAMPLE)
    levels = [n.level for n in county.nodes.values()]
    assert levels.count("township") == 3 and levels.count("village") >= 12
    assert len(county.categories) >= 17
    kinds = {b.kind for b in county.bodies.values()}
    assert {"petition_office", "judicial_office", "police_station", "governance_center",
            "village_mediation_committee", "discipline_commission"} <= kinds
    assert county.township_of("QS01-G1").code == "QS"


def _raw():
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def test_errors_name_the_file_the_entry_and_the_problem():
    raw = _raw()
    raw["townships"][1]["bodies"][0]["categories"] = ["alchemy"]
    with pytest.raises(CountyConfigError) as err:
        parse(raw, "county.yaml")
    assert str(err.value) == (
        "county.yaml: townships[1] (BY).bodies[0] (BY-PETITION): unknown categories alchemy")


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["townships"][2]["villages"].append(dict(r["townships"][0]["villages"][0])), "duplicate node code 'QS01'"),
    (lambda r: r["categories"][0].update(channel_class="magic"), "channel_class must be one of"),
    (lambda r: r["townships"].clear(), "at least one township"),
    (lambda r: r["county"].pop("code"), "missing 'code'"),
])
def test_mistakes_in_the_county_file_are_refused(mutate, message):
    raw = _raw()
    mutate(raw)
    with pytest.raises(CountyConfigError, match=message):
        parse(raw, "county.yaml")


def test_an_unreadable_file_says_which(tmp_path):
    with pytest.raises(CountyConfigError, match="missing.yaml: cannot read"):
        load(tmp_path / "missing.yaml")


def test_every_category_names_a_known_lawful_route():
    raw = _raw()
    raw["categories"][0]["lawful_route"] = "trial_by_combat"
    with pytest.raises(CountyConfigError, match=r"categories\[0\] \(land_dispute\): unknown lawful routes trial_by_combat"):
        parse(raw, "county.yaml")
    county = load(SAMPLE)
    assert county.categories["wage_arrears"]["lawful_route"] == "arbitration"
    assert county.lawful_routes["arbitration"]["outside_petitions"]
