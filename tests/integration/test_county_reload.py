"""A running service takes up a changed county file without a restart and refuses a broken one,
keeping the county in force (intake's lawful-route guide reads the county on every request)."""
import shutil

import requests
import yaml

from fengqiao import auth, config
from services.intake.service import IntakeService
from tests.integration.conftest import web_port

INTAKE_DIR = config.REPO_ROOT / "services" / "intake"
SAMPLE = config.REPO_ROOT / "deploy" / "county" / "sample-county.yaml"


def headers():
    s = config.settings("intake")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "tester", ("clerk",), "SH")}


def refused_count(base):
    text = requests.get(f"{base}/metrics").text
    for line in text.splitlines():
        if line.startswith("fengqiao_config_reloads_total{") and 'file="county"' in line and 'outcome="refused"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_changed_county_file_is_used_without_a_restart_and_a_broken_one_is_refused(
        run_service, fresh_database, tmp_path, caplog):
    path = tmp_path / "county.yaml"
    shutil.copy(SAMPLE, path)
    container = run_service(IntakeService, fresh_database(INTAKE_DIR), COUNTY_FILE=str(path), COUNTY_RELOAD_SECONDS=0)
    base = f"http://127.0.0.1:{web_port(container)}"

    def wage_label():
        r = requests.get(f"{base}/guide?category=wage_arrears", headers=headers())
        assert r.status_code == 200, r.text
        return r.json()[0]["label"]

    assert wage_label() == "欠薪与劳动争议"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["categories"][3]["label"] = "拖欠农民工工资"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert wage_label() == "拖欠农民工工资"

    before = refused_count(base)
    raw["categories"][3]["label"] = "改坏了"
    raw["staff"][0]["scope"] = "NOWHERE"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with caplog.at_level("ERROR", logger="fengqiao.county"):
        assert wage_label() == "拖欠农民工工资"  # the county in force stays
    assert refused_count(base) == before + 1
    assert any("staff[0] (SH-YANGZG): unknown scope node NOWHERE" in r.getMessage() for r in caplog.records)
