"""Intake's HTTP API on the real database: auth, problem+json, numbering, health and metrics."""
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import eventlet
import pytest
import requests

from fengqiao import auth, config
from services.intake.schemas import REGISTRATION_EXAMPLE
from services.intake.service import IntakeService
from services.routing.service import RoutingService
from tests.integration.conftest import pool_of, web_port

INTAKE_DIR = config.REPO_ROOT / "services" / "intake"


def token(*roles, scope="SH"):
    s = config.settings("intake")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "tester", roles, scope)}


@pytest.fixture
def intake(run_service, fresh_database):
    url = fresh_database(INTAKE_DIR)
    container = run_service(IntakeService, url)
    return f"http://127.0.0.1:{web_port(container)}", url


def counts(url):
    with pool_of(url) as pool, pool.connection() as conn:
        return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in ("cases", "outbox")}


def test_a_registration_gets_the_next_number_and_its_event_in_the_outbox(intake):
    base, url = intake
    r = requests.post(f"{base}/cases", json=REGISTRATION_EXAMPLE,
                      headers={**token("clerk"), "X-Correlation-ID": "hotline-call-42"})
    assert r.status_code == 201, r.text
    year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    assert r.json()["number"] == f"QS-{year}-000001"
    assert r.headers["Location"] == f"/cases/QS-{year}-000001"
    with pool_of(url) as pool, pool.connection() as conn:
        [row] = conn.execute("SELECT routing_key, envelope FROM outbox").fetchall()
    assert row["routing_key"] == "case.registered"
    event = row["envelope"]
    assert event["correlationid"] == "hotline-call-42" and event["subject"] == r.json()["id"]
    assert event["source"] == "/fengqiao/intake" and event["data"]["township"] == "QS"
    got = requests.get(f"{base}/cases/QS-{year}-000001", headers=token("clerk"))
    assert got.json()["category"] == "neighbour_dispute"


def test_concurrent_registrations_are_numbered_without_gap_or_duplicate(intake):
    base, _ = intake
    headers = token("clerk")
    other_township = {**REGISTRATION_EXAMPLE, "location": "BY02"}

    def register(i):
        body = other_township if i % 5 == 0 else REGISTRATION_EXAMPLE
        # a different person each time: the same one again would be a repeat petition
        body = {**body, "petitioners": [{"name": f"村民{i}", "phone": f"138{i:08d}"}]}
        r = requests.post(f"{base}/cases", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["number"]

    pool = eventlet.GreenPool(20)
    numbers = list(pool.imap(register, range(60)))
    qs = sorted(int(n[-6:]) for n in numbers if n.startswith("QS-"))
    by = sorted(int(n[-6:]) for n in numbers if n.startswith("BY-"))
    assert qs == list(range(1, 49)) and by == list(range(1, 13))


@pytest.mark.parametrize("body, fields", [
    ({}, {"channel", "location", "category", "subject", "description"}),
    ({**REGISTRATION_EXAMPLE, "channel": "pigeon", "subject": ""}, {"channel", "subject"}),
    ({**REGISTRATION_EXAMPLE, "location": "NOWHERE", "category": "alchemy"}, {"location", "category"}),
    ({**REGISTRATION_EXAMPLE, "received_at": "2999-01-01T00:00:00+08:00"}, {"received_at"}),
    ({**REGISTRATION_EXAMPLE, "received_at": "yesterday"}, {"received_at"}),
    ({**REGISTRATION_EXAMPLE, "subject": "长" * 201, "urgency": "high"}, {"subject", "urgency"}),
    ({**REGISTRATION_EXAMPLE, "petitioners": [{"name": "王", "id_number": "110101199003074515",
                                               "phone": "12345"}]}, {"petitioners.0.id_number", "petitioners.0.phone"}),
])
def test_bad_input_is_a_field_by_field_problem_and_writes_nothing(intake, body, fields):
    base, url = intake
    r = requests.post(f"{base}/cases", json=body, headers=token("clerk"))
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in r.json()["errors"]} == fields
    assert counts(url) == {"cases": 0, "outbox": 0}


def test_malformed_json_is_a_problem_not_a_crash(intake):
    base, url = intake
    as_json = {**token("clerk"), "Content-Type": "application/json"}
    r = requests.post(f"{base}/cases", data="{not json", headers=as_json)
    assert r.status_code == 400 and r.json()["title"] == "Invalid JSON"
    r = requests.post(f"{base}/cases", data="[1, 2]", headers=as_json)
    assert r.status_code == 400
    plain = {**token("clerk"), "Content-Type": "text/plain"}
    r = requests.post(f"{base}/cases", data=json.dumps(REGISTRATION_EXAMPLE), headers=plain)
    assert r.status_code == 415 and r.headers["Content-Type"] == "application/problem+json"  # JSON, but not said so
    assert counts(url) == {"cases": 0, "outbox": 0}


def test_a_body_or_field_too_large_is_refused_before_anything_is_written(intake):
    base, url = intake
    huge = requests.post(f"{base}/cases", data=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
                         headers={**token("clerk"), "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.headers["Content-Type"] == "application/problem+json"
    long_text = {**REGISTRATION_EXAMPLE, "description": "长" * 10_001}  # a field without a limit of its own
    r = requests.post(f"{base}/cases", json=long_text, headers=token("clerk"))
    assert r.status_code == 400 and r.json()["errors"] == [{"field": "description", "message": "at most 10000 characters"}]
    assert counts(url) == {"cases": 0, "outbox": 0}


def test_a_token_sending_commands_too_fast_is_held_back(run_service, fresh_database):
    url = fresh_database(INTAKE_DIR)
    base = f"http://127.0.0.1:{web_port(run_service(IntakeService, url, WRITE_RATE=0.5, WRITE_BURST=2))}"
    bad = {"channel": "visit"}  # refused anyway: the limit counts commands, not successes
    assert [requests.post(f"{base}/cases", json=bad, headers=token("clerk")).status_code for _ in range(2)] == [400, 400]
    held = requests.post(f"{base}/cases", json=bad, headers=token("clerk"))
    assert held.status_code == 429 and held.headers["Retry-After"] == "2"
    assert requests.get(f"{base}/guide", headers=token("clerk")).status_code == 200  # reads are not limited
    s = config.settings("intake")
    another = {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "someone-else", ["clerk"], "SH")}
    assert requests.post(f"{base}/cases", json=bad, headers=another).status_code == 400  # a bucket of their own


def test_every_command_needs_a_valid_token_and_a_permitted_role(intake):
    base, url = intake
    s = config.settings("intake")
    expired = auth.issue(s.jwt_secret, s.jwt_audience, "x", ["clerk"], "SH", ttl_seconds=-10)
    forged = auth.issue("another-secret-of-the-same-length-as-ours!!", s.jwt_audience, "x", ["clerk"], "SH")
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {expired}"},
                    {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        r = requests.post(f"{base}/cases", json=REGISTRATION_EXAMPLE, headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", headers
    r = requests.post(f"{base}/cases", json=REGISTRATION_EXAMPLE, headers=token("auditor"))
    assert r.status_code == 403
    assert counts(url) == {"cases": 0, "outbox": 0}


def test_health_metrics_and_unknown_paths(intake):
    base, _ = intake
    assert requests.get(f"{base}/health/live").json() == {"status": "live"}
    ready = requests.get(f"{base}/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}

    def bad_posts_counted():
        m = requests.get(f"{base}/metrics")
        assert m.headers["Content-Type"].count("charset") == 1  # pitfall 9
        found = re.search(r'fengqiao_http_request_duration_seconds_count\{.*route="/cases",.*status="400"\} (\S+)', m.text)
        return float(found.group(1)) if found else 0.0

    before = bad_posts_counted()
    requests.post(f"{base}/cases", json={}, headers=token("clerk"))
    assert bad_posts_counted() == before + 1
    missing = requests.get(f"{base}/no/such/thing")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"


def test_not_ready_while_the_broker_is_unreachable(run_service, fresh_database):
    # intake consumes routing's events (Open311's status), so it starts with the broker there;
    # the readiness check looks at the broker when asked: it is pointed at one that never answers.
    container = run_service(IntakeService, fresh_database(INTAKE_DIR))
    container.config["AMQP_URI"] = "amqp://guest:guest@127.0.0.1:1/fengqiao_test"
    r = requests.get(f"http://127.0.0.1:{web_port(container)}/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok" and r.json()["checks"]["broker"].startswith("unavailable")


def test_openapi_documents_each_command_with_a_working_example(intake, run_service, fresh_database):
    base, url = intake
    doc = requests.get(f"{base}/openapi.json").json()
    post = doc["paths"]["/cases"]["post"]
    example = post["requestBody"]["content"]["application/json"]["example"]
    assert set(post["responses"]) >= {"201", "400", "401", "403"}
    assert doc["paths"]["/cases/{number}"]["get"]["parameters"][0]["name"] == "number"
    # the documented example really registers a case
    assert requests.post(f"{base}/cases", data=json.dumps(example),
                         headers={**token("clerk"), "Content-Type": "application/json"}).status_code == 201
    routing = run_service(RoutingService, fresh_database(config.REPO_ROOT / "services" / "routing"))
    routing_doc = requests.get(f"http://127.0.0.1:{web_port(routing)}/openapi.json").json()
    assert "/cases/{number}" in routing_doc["paths"] and "/health/ready" in routing_doc["paths"]
