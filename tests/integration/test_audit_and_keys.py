"""The audit log on the real database (fengqiao/audit.py, backbone migration 003): every command
a person makes and every read of personal data recorded, with who, role, scope, what, when and
from where; refused commands leave nothing; the table refuses changes; the hash chain tells a
removed entry; auditors query and verify it over HTTP and on the command line. And the key that
seals personal data at rest rotates without losing a row."""
import psycopg
import pytest
import requests

from fengqiao import auth, cli, config
from services.intake.schemas import REGISTRATION_EXAMPLE
from services.intake.service import IntakeService
from tests.integration.conftest import web_port

INTAKE_DIR = config.REPO_ROOT / "services" / "intake"


def token(who, *roles, scope="QS"):
    s = config.settings("intake")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, who, roles, scope)}


CLERK, AUDITOR = token("QS-WUXY", "clerk"), token("SH-SHAOYJ", "auditor", scope="SH")


@pytest.fixture
def intake(run_service, fresh_database):
    url = fresh_database(INTAKE_DIR)
    return f"http://127.0.0.1:{web_port(run_service(IntakeService, url))}", url


def entries(base, **query):
    r = requests.get(f"{base}/audit", params=query, headers=AUDITOR)
    assert r.status_code == 200, r.text
    return r.json()


def test_commands_and_reads_of_personal_data_are_audited_and_the_chain_tells_a_removal(intake, monkeypatch):
    base, url = intake
    number = requests.post(f"{base}/cases", json=REGISTRATION_EXAMPLE,
                           headers={**CLERK, "X-Forwarded-For": "10.8.0.7"}).json()["number"]
    assert requests.get(f"{base}/cases/{number}", headers=CLERK).status_code == 200
    assert requests.post(f"{base}/cases", json={"channel": "visit"}, headers=CLERK).status_code == 400  # refused
    assert requests.get(f"{base}/guide", headers=CLERK).status_code == 200  # no personal data: not audited
    assert requests.post(f"{base}/cases", json=REGISTRATION_EXAMPLE | {"location": "QS02"},
                         headers=CLERK).status_code == 201

    read, registered = entries(base)[1], entries(base)[2]  # newest first
    assert (registered["subject"], registered["roles"], registered["scope"]) == ("QS-WUXY", ["clerk"], "QS")
    assert (registered["action"], registered["target"]) == ("POST /cases", "/cases")
    assert registered["details"] == {"events": ["case.registered"], "forwarded_for": "10.8.0.7"}
    assert registered["source"] == "127.0.0.1"
    assert (read["action"], read["target"], read["details"]) == ("GET /cases/{number}", f"/cases/{number}",
                                                                 {"status": 200})
    assert len(entries(base)) == 3 and [e["action"] for e in entries(base, action="GET")] == ["GET /cases/{number}"]
    assert entries(base, subject="someone-else") == []
    assert requests.get(f"{base}/audit", headers=CLERK).status_code == 403  # auditors only

    with psycopg.connect(url) as conn:  # the service's own database user cannot change it
        for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET subject = 'x'", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
            conn.rollback()
    intact = requests.get(f"{base}/audit/verify", headers=AUDITOR).json()
    assert intact == {"entries": 3, "intact": True, "first_broken": None, "head": entries(base)[0]["hash"]}

    with psycopg.connect(url) as conn:  # someone who can lift the guard removes the read
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        conn.execute("DELETE FROM audit_log WHERE seq = %s", (read["seq"],))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    broken = requests.get(f"{base}/audit/verify", headers=AUDITOR).json()
    assert broken["intact"] is False and broken["first_broken"] == entries(base)[0]["seq"]  # the one after it
    monkeypatch.setenv("FENGQIAO_INTAKE_DATABASE_URL", url)
    assert cli.main(["audit", "verify", "intake"]) == 1


def test_rows_sealed_before_a_key_rotation_stay_readable_after_it(run_service, fresh_database):
    """Intake registers with key A; restarted with keys [B, A] it reads the old row and seals new
    ones with B; with B alone the old row cannot be unsealed (503), and nothing is lost."""
    from cryptography.fernet import Fernet

    url, old, new = fresh_database(INTAKE_DIR), Fernet.generate_key().decode(), Fernet.generate_key().decode()
    service = token("notify", "service", scope="SH")

    def intake_with(*keys):
        return f"http://127.0.0.1:{web_port(run_service(IntakeService, url, PERSONAL_DATA_KEYS=keys))}"

    before = intake_with(old)
    first = requests.post(f"{before}/cases", json=REGISTRATION_EXAMPLE, headers=CLERK).json()["number"]
    rotated = intake_with(new, old)
    assert requests.get(f"{rotated}/cases/{first}/contacts", headers=service).json()[0]["phone"] == "13800138000"
    someone = {**REGISTRATION_EXAMPLE, "petitioners": [{"name": "李某", "phone": "13900000001"}]}
    second = requests.post(f"{rotated}/cases", json=someone, headers=CLERK).json()["number"]
    only_new = intake_with(new)
    assert requests.get(f"{only_new}/cases/{second}/contacts", headers=service).json()[0]["phone"] == "13900000001"
    assert requests.get(f"{only_new}/cases/{first}/contacts", headers=service).status_code == 503  # A dropped too soon
    with psycopg.connect(url) as conn:
        sealed = conn.execute("SELECT string_agg(phone_sealed, ' ') FROM petitioners").fetchone()[0]
    assert "13800138000" not in sealed and "13900000001" not in sealed
