import copy
import os

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


_SAMPLE_RAW = yaml.load(SAMPLE.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _raw():
    return copy.deepcopy(_SAMPLE_RAW)


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


# --- staff and leaders -------------------------------------------------------------------------

TOWNSHIP_KINDS = {"petition_office", "judicial_office", "police_station", "governance_center",
                  "discipline_commission", "natural_resources_office", "labour_office", "civil_affairs_office",
                  "law_enforcement", "police_mediation"}


def test_the_sample_county_has_its_bodies_and_people_at_every_township():
    county = load(SAMPLE)
    for township in ("QS", "BY", "DS"):
        assert {b.kind for b in county.bodies_at(township)} == TOWNSHIP_KINDS
        for duty in ("party_secretary", "township_head", "political_legal_member", "governance_center_director"):
            leader = county.leader_with_duty(duty, township)
            assert leader.scope == township and "leader" in leader.roles
        assert county.staff_with("supervisor", township)[0].scope == township
        assert len([s for s in county.staff_with("clerk", township) if s.scope == township]) == 2
        assert len(county.mediators_of(f"{township}-JUDICIAL")) == 2
        discipline = county.staff_of(f"{township}-DISCIPLINE")
        assert discipline and all("discipline_officer" in s.roles for s in discipline)
    villages = [n.code for n in county.nodes.values() if n.level == "village"]
    assert all(1 <= len(county.mediators_of(f"{v}-MEDIATION")) <= 2 for v in villages)
    # every body has someone to sign for its cases; the county has its leaders and overseers
    assert all(county.staff_of(code, "handler") for code in county.bodies)
    for role in ("supervisor", "discipline_officer", "auditor", "operator"):
        assert any(s.scope == "SH" for s in county.staff_with(role, "SH")), role
    assert county.leader_with_duty("county_leader", "QS").scope == "SH"
    assert county.person("QS-HUANGWD").body == "QS-JUDICIAL"


def _staff_entry(**over):
    return {"id": "QS-ZHANG", "name": "张三", "roles": ["handler"], "scope": "QS", "body": "QS-JUDICIAL", **over}


def _with_staff(entry, at=4):
    raw = _raw()
    raw["staff"].insert(at, entry)
    return raw


def test_a_staff_error_names_the_file_the_entry_and_the_problem():
    with pytest.raises(CountyConfigError) as err:
        parse(_with_staff(_staff_entry(body="QS-NOPE")), "county.yaml")
    assert str(err.value) == "county.yaml: staff[4] (QS-ZHANG): unknown body QS-NOPE"


@pytest.mark.parametrize("over, message", [
    ({"roles": ["handler", "wizard"]}, r"unknown roles wizard; known: clerk, handler"),
    ({"roles": []}, r"needs 'roles', a list of: clerk"),
    ({"roles": "handler"}, r"needs 'roles'"),
    ({"scope": "QS99"}, r"unknown scope node QS99"),
    ({"scope": None}, r"needs a 'scope'"),
    ({"scope": "QS01", "body": "QS-JUDICIAL"}, r"body QS-JUDICIAL sits at QS, outside the scope QS01"),
    ({"scope": "QS", "body": "BY-JUDICIAL"}, r"body BY-JUDICIAL sits at BY, outside the scope QS"),
    ({"scope": "QS", "body": "SH-COURT-WINDOW"}, r"body SH-COURT-WINDOW sits at SH, outside the scope QS"),
    ({"id": "SH-WENJP"}, r" \(SH-WENJP\): duplicate staff id 'SH-WENJP'"),
    ({"id": None}, r": needs 'id' and 'name'"),
    ({"id": 1001}, r"id must be text"),
    ({"duties": ["township_head"]}, r"duties township_head need the role leader"),
    ({"roles": ["leader"], "duties": ["mayor"]}, r"unknown duties mayor; known: party_secretary"),
    ({"roles": ["leader"], "scope": "QS01", "body": None, "duties": ["party_secretary"]},
     r"duty party_secretary needs a township scope, not QS01 \(village\)"),
    ({"roles": ["leader"], "body": None, "duties": ["county_political_legal_secretary"]},
     r"duty county_political_legal_secretary needs the county scope SH, not QS \(township\)"),
    ({"roles": ["leader"], "scope": "SH", "body": None, "duties": ["county_political_legal_secretary"]},
     r"duty county_political_legal_secretary at SH is already held by SH-WENJP"),
    ({"phone": 13900001999}, r"phone must be text \(quote it in YAML\)"),
    ({"phone": "call me"}, r"phone 'call me' may hold only digits"),
    ({"email": "zhang.songhe.example"}, r"email 'zhang.songhe.example' is not an address"),
    ({"role": ["handler"]}, r"unknown keys role; known: id, name, roles"),
])
def test_mistakes_in_the_staff_are_refused(over, message):
    with pytest.raises(CountyConfigError, match=r"^county\.yaml: staff\[4\].*" + message):
        parse(_with_staff(_staff_entry(**over)), "county.yaml")


def test_a_township_post_has_one_holder():
    raw = _raw()
    raw["staff"].append({"id": "QS-LI", "name": "李四", "roles": ["leader"], "scope": "QS", "duties": ["party_secretary"]})
    at = len(raw["staff"]) - 1
    with pytest.raises(CountyConfigError) as err:
        parse(raw, "county.yaml")
    assert str(err.value).endswith(f"staff[{at}] (QS-LI): duty party_secretary at QS is already held by QS-WANGHM")


def test_several_county_leaders_may_share_the_duty_and_the_first_is_asked():
    raw = _with_staff({"id": "SH-LIGX", "name": "李国新", "roles": ["leader"], "scope": "SH",
                       "duties": ["county_leader"]}, at=len(_raw()["staff"]))
    county = parse(raw, "county.yaml")
    assert [s.id for s in county.staff_with("leader", "SH") if "county_leader" in s.duties] == ["SH-YANGZG", "SH-LIGX"]
    assert county.leader_with_duty("county_leader", "BY01").id == "SH-YANGZG"


def test_malformed_entries_are_refused_with_their_place():
    raw = _raw()
    raw["staff"][2] = "QS-ZHANG"
    with pytest.raises(CountyConfigError, match=r"county\.yaml: staff\[2\]: expected a mapping"):
        parse(raw, "county.yaml")
    raw = _raw()
    raw["townships"][0]["villages"] = "QS01"
    with pytest.raises(CountyConfigError, match=r"townships\[0\] \(QS\)\.villages: expected a list"):
        parse(raw, "county.yaml")
    raw = _raw()
    raw["county"] = "SH"
    with pytest.raises(CountyConfigError, match="top level"):
        parse(raw, "county.yaml")


def test_covers_is_the_subtree_of_the_scope():
    county = load(SAMPLE)
    assert county.covers("QS", "QS") and county.covers("QS", "QS01") and county.covers("QS", "QS01-G2")
    assert county.covers("SH", "DS05-G1") and county.covers("QS01", "QS01-G1")
    assert not county.covers("QS01", "QS") and not county.covers("QS", "BY01") and not county.covers("QS01", "QS02-G1")
    assert not county.covers("NOPE", "QS01") and not county.covers("QS", "NOPE")


def test_staff_with_gives_the_nearest_scope_first():
    county = load(SAMPLE)
    handlers = county.staff_with("handler", "QS01-G1")
    scopes = [s.scope for s in handlers]
    assert scopes[0] == "QS01" and handlers[0].id == "QS-XUCS"
    assert scopes == sorted(scopes, key=["QS01", "QS", "SH"].index)  # village, then township, then county
    assert {"QS01", "QS", "SH"} == set(scopes) and "QS02" not in scopes and "BY" not in scopes
    assert [s.id for s in county.staff_with("handler", "QS01", body="QS-JUDICIAL")] == ["QS-HUANGWD"]
    assert [s.id for s in county.staff_with("mediator", "QS", body="QS-JUDICIAL")] == ["QS-SONGGL", "QS-TANGDS"]
    assert [s.id for s in county.staff_with("operator", "QS03")] == ["SH-TANY"]
    assert county.staff_with("handler", "NOPE") == []


def test_leader_with_duty_looks_in_the_township_of_the_place_or_at_the_county():
    county = load(SAMPLE)
    assert county.leader_with_duty("party_secretary", "QS01").id == "QS-WANGHM"  # a village: its township's
    assert county.leader_with_duty("party_secretary", "QS01-G1").id == "QS-WANGHM"
    assert county.leader_with_duty("township_head", "BY").id == "BY-ZHANGHY"
    assert county.leader_with_duty("political_legal_member", "DS03").id == "DS-QIANWF"
    assert county.leader_with_duty("governance_center_director", "QS").body == "QS-GOVCENTER"
    assert county.leader_with_duty("county_political_legal_secretary", "QS01").id == "SH-WENJP"
    assert county.leader_with_duty("county_leader", "SH").id == "SH-YANGZG"
    assert county.leader_with_duty("party_secretary", "SH") is None  # the county has no township
    assert county.leader_with_duty("party_secretary", "NOPE") is None
    raw = _raw()
    raw["staff"] = [s for s in raw["staff"] if "township_head" not in (s.get("duties") or [])]
    assert parse(raw, "county.yaml").leader_with_duty("township_head", "QS01") is None
    with pytest.raises(ValueError, match="unknown duty 'emperor'"):
        county.leader_with_duty("emperor", "QS")


def test_mediators_and_people():
    county = load(SAMPLE)
    assert [m.id for m in county.mediators_of("QS01-MEDIATION")] == ["QS-XUCS", "QS-GAOXM"]
    assert [m.id for m in county.mediators_of("QS-POLICE-MEDIATION")] == ["QS-LIANGZH"]
    assert county.mediators_of("QS-LAND") == [] and county.mediators_of("NOPE") == []
    person = county.person("QS-WANGHM")
    assert (person.name, person.roles, person.duties, person.scope) == ("王海明", ("leader",), ("party_secretary",), "QS")
    assert person.phone == "13900001001" and person.email.endswith("@songhe.example") and person.has_role("leader")
    assert county.person("nobody") is None


def test_a_county_without_staff_still_loads():
    raw = _raw()
    del raw["staff"]
    county = parse(raw, "county.yaml")
    assert county.staff == {} and county.leader_with_duty("party_secretary", "QS") is None


# --- reloading without a restart ---------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _reloads(outcome, file="county"):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("fengqiao_config_reloads_total", {"file": file, "outcome": outcome}) or 0


def _provider(path, interval):
    from types import SimpleNamespace

    from fengqiao.county import CountyConfig
    provider = CountyConfig()
    provider.container = SimpleNamespace(config={"COUNTY_FILE": str(path), "COUNTY_RELOAD_SECONDS": interval})
    provider.clock = FakeClock()
    provider.setup()
    return provider


def _write(path, raw, bump):
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))  # a later mtime, surely


def test_the_county_file_is_reloaded_when_it_changes_and_a_bad_one_is_refused(tmp_path, caplog):
    path = tmp_path / "county.yaml"
    raw = _raw()
    _write(path, raw, 0)
    provider = _provider(path, 0)
    first = provider.get_dependency(None)
    assert first.categories["wage_arrears"]["label"] == "欠薪与劳动争议"
    assert provider.get_dependency(None) is first  # unchanged: the same county
    ok, refused = _reloads("ok"), _reloads("refused")

    raw["categories"][3]["label"] = "拖欠工资"
    raw["staff"].append(_staff_entry(id="QS-NEW", name="新来的"))
    _write(path, raw, 1)
    second = provider.get_dependency(None)
    assert second.categories["wage_arrears"]["label"] == "拖欠工资" and second.person("QS-NEW").name == "新来的"
    assert _reloads("ok") == ok + 1

    raw["staff"].append(_staff_entry(id="QS-BAD", roles=["wizard"]))
    _write(path, raw, 2)
    with caplog.at_level("ERROR", logger="fengqiao.county"):
        assert provider.get_dependency(None) is second  # refused: the county in force stays
    assert _reloads("refused") == refused + 1 and _reloads("ok") == ok + 1
    [record] = [r for r in caplog.records if r.name == "fengqiao.county"]
    assert "county.yaml" in record.getMessage() and "staff[" in record.getMessage()
    assert "(QS-BAD): unknown roles wizard" in record.getMessage()
    assert provider.get_dependency(None) is second and _reloads("refused") == refused + 1  # not retried

    path.write_text("county: [unclosed", encoding="utf-8")  # half-written
    assert provider.get_dependency(None) is second and _reloads("refused") == refused + 2
    path.unlink()
    assert provider.get_dependency(None) is second and _reloads("refused") == refused + 3

    raw["staff"].pop()
    _write(path, raw, 3)
    assert provider.get_dependency(None).person("QS-NEW") and _reloads("ok") == ok + 2


def test_the_file_is_looked_at_no_more_often_than_the_interval(tmp_path):
    path = tmp_path / "county.yaml"
    raw = _raw()
    _write(path, raw, 0)
    provider = _provider(path, 5)
    first = provider.get_dependency(None)
    raw["categories"][3]["label"] = "拖欠工资"
    _write(path, raw, 1)
    provider.clock.now += 4.9
    assert provider.get_dependency(None) is first
    provider.clock.now += 0.2
    assert provider.get_dependency(None).categories["wage_arrears"]["label"] == "拖欠工资"


def test_a_bad_county_file_at_start_stops_the_service(tmp_path):
    path = tmp_path / "county.yaml"
    _write(path, _with_staff(_staff_entry(scope="QS99")), 0)
    with pytest.raises(CountyConfigError, match=r"county\.yaml: staff\[4\] \(QS-ZHANG\): unknown scope node QS99"):
        _provider(path, 0)


def test_the_reload_interval_is_configurable(monkeypatch):
    from fengqiao import config
    assert config.settings("intake").nameko_config()["COUNTY_RELOAD_SECONDS"] == 5
    monkeypatch.setenv("FENGQIAO_COUNTY_RELOAD_SECONDS", "0.5")
    assert config.settings("routing").nameko_config()["COUNTY_RELOAD_SECONDS"] == 0.5
