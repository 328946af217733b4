"""Intake's registration rules on the real database: sealed personal data, masked events,
one case per hotline order, repeat petitions linked rather than doubled."""
import eventlet
import pytest
import requests

from services.intake.service import IntakeService
from tests.integration.conftest import pool_of, web_port
from tests.integration.test_intake_http import INTAKE_DIR, token

ID_NUMBER, PHONE = "110101199003074514", "13800138000"
VISIT = {"channel": "visit", "location": "QS01-G1", "category": "land_dispute", "subject": "地界争议",
         "description": "两户地界争议", "petitioners": [{"name": "王某某", "id_number": ID_NUMBER,
                                                       "phone": PHONE, "address": "柳湾村3组"}]}


@pytest.fixture
def intake(run_service, fresh_database):
    url = fresh_database(INTAKE_DIR)
    container = run_service(IntakeService, url)
    base = f"http://127.0.0.1:{web_port(container)}"

    def post(body):
        return requests.post(f"{base}/cases", json=body, headers=token("clerk"))

    def rows(query, params=None):
        with pool_of(url) as pool, pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    post.rows, post.base = rows, base
    return post


def outbox(intake):
    return [r["envelope"] for r in intake.rows("SELECT envelope FROM outbox ORDER BY seq")]


def test_personal_data_is_sealed_at_rest_and_masked_everywhere_else(intake):
    r = intake(VISIT)
    assert r.status_code == 201
    [row] = intake.rows("SELECT * FROM petitioners")
    stored = " ".join(str(v) for v in row.values())
    for secret in (ID_NUMBER, PHONE, "柳湾村3组", ID_NUMBER[:10], PHONE[:7]):
        assert secret not in stored
    assert row["id_number_hash"] and row["phone_hash"] and row["id_number_last4"] == "4514"
    [event] = outbox(intake)
    assert event["data"]["petitioners"] == [{"name": "王某某", "id_number": "****4514", "phone": "****8000"}]
    shown = requests.get(f"{intake.base}/cases/{r.json()['number']}", headers=token("clerk")).json()
    assert shown["petitioners"] == [{"name": "王某某", "id_number": "****4514", "phone": "****8000"}]


def test_the_same_hotline_order_gives_the_same_case_even_at_the_same_moment(intake):
    order = {"channel": "hotline", "location": "BY02", "category": "heating", "subject": "暖气不热",
             "description": "12345 转来：小区暖气不热", "anonymous": True, "hotline": {"order_id": "12345-2026-0042"}}
    responses = list(eventlet.GreenPool(10).imap(lambda _: intake(order), range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["number"] for r in responses}) == 1
    assert {r.json()["outcome"] for r in responses} == {"registered", "same_hotline_order"}
    assert len(intake.rows("SELECT id FROM cases")) == 1 and len(outbox(intake)) == 1
    # the numbers stay gapless: the twins that lost the race took no number
    assert responses[0].json()["number"].startswith("BY-") and responses[0].json()["number"].endswith("-000001")
    next_in_by = intake({**order, "hotline": {"order_id": "12345-2026-0043"}}).json()["number"]
    assert next_in_by.endswith("-000002")


def test_a_repeat_petition_is_linked_to_the_earlier_case_not_opened_again(intake):
    first = intake(VISIT).json()
    again_by_phone = {**VISIT, "channel": "phone", "location": "QS01",
                      "petitioners": [{"name": "王某某", "phone": "+86 13800138000"}]}
    second = intake(again_by_phone)
    assert second.status_code == 200
    assert second.json() == {**first, "outcome": "repeat_linked", "repeat_count": 1}
    third = intake(VISIT).json()
    assert third["number"] == first["number"] and third["repeat_count"] == 2
    registered, linked, _ = outbox(intake)
    assert linked["type"] == "case.repeat_linked" and linked["data"]["repeat_count"] == 1
    assert linked["correlationid"] == registered["correlationid"] and linked["subject"] == first["id"]
    assert len(intake.rows("SELECT id FROM cases")) == 1


@pytest.mark.parametrize("change", [{"category": "neighbour_dispute"}, {"location": "QS02"}])
def test_another_matter_of_the_same_person_is_a_new_case(intake, change):
    first = intake(VISIT).json()
    other = intake({**VISIT, **change})
    assert other.status_code == 201 and other.json()["number"] != first["number"]


def test_outside_the_repeat_window_it_is_a_new_case(intake):
    first = intake(VISIT).json()
    intake.rows("UPDATE cases SET registered_at = registered_at - interval '91 days' RETURNING id")
    assert intake(VISIT).json()["number"] != first["number"]


@pytest.mark.parametrize("body, details", [
    ({"channel": "grid_report", "location": "DS01-G1", "grid_report": {"grid_worker": "李网格", "grid": "DS01-G1"}},
     {"grid_worker": "李网格", "grid": "DS01-G1"}),
    ({"channel": "proxy", "proxy": {"agent": "赵代办", "consent": True}},
     {"agent": "赵代办", "consent": True, "consent_note": None}),
    ({"channel": "referral", "referral": {"source_body": "县信访局", "document_number": "松信转〔2026〕12号"}},
     {"source_body": "县信访局", "document_number": "松信转〔2026〕12号"}),
    ({"channel": "letter", "petitioners": [], "anonymous": True}, {}),
    ({"channel": "online", "petitioners": [{"name": f"村民{i}", "phone": f"1390000000{i}"} for i in range(6)]}, {}),
])
def test_each_channel_registers_with_its_own_details(intake, body, details):
    r = intake({**VISIT, **body})
    assert r.status_code == 201, r.text
    shown = requests.get(f"{intake.base}/cases/{r.json()['number']}", headers=token("clerk")).json()
    assert shown["channel"] == body["channel"] and shown["details"] == details
    assert shown["collective"] == (len(body.get("petitioners", VISIT["petitioners"])) >= 5)
    [event] = outbox(intake)
    assert event["data"]["details"] == details


def test_a_retried_request_with_its_idempotency_key_gets_the_same_case(intake):
    def post(key, body=VISIT):
        return requests.post(f"{intake.base}/cases", json=body,
                             headers={**token("clerk"), "Idempotency-Key": key})

    first = post("req-1")
    again = post("req-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["number"] == first.json()["number"] and again.json()["outcome"] == "same_request"
    repeat = post("req-2")  # same person, same matter: a repeat petition, counted once
    assert post("req-2").json() == {**repeat.json(), "outcome": "same_request"}
    assert intake.rows("SELECT repeat_count FROM cases")[0]["repeat_count"] == 1
    assert len(outbox(intake)) == 2


@pytest.mark.parametrize("body", [
    {**VISIT, "subject": "   "},
    {**VISIT, "description": "a\u0000b"},
])
def test_blank_or_nul_text_is_refused(intake, body):
    r = intake(body)
    assert r.status_code == 400 and len(r.json()["errors"]) == 1
    assert intake.rows("SELECT count(*) AS n FROM cases")[0]["n"] == 0


def test_hostile_requests_get_problems_not_500s(intake):
    assert requests.get(f"{intake.base}/cases/%00", headers=token("clerk")).status_code == 400
    deep = requests.post(f"{intake.base}/cases", data="[" * 100000,
                         headers={**token("clerk"), "Content-Type": "application/json"})
    assert deep.status_code == 400 and deep.headers["Content-Type"] == "application/problem+json"


def test_a_repeat_check_says_what_registering_would_do_and_changes_nothing(intake):
    def check(body, **scope):
        return requests.post(f"{intake.base}/cases/repeat-check", json=body, headers=token("clerk", **scope))

    probe = {"location": "QS01", "category": "land_dispute", "petitioners": [{"phone": "+86 13800138000"}]}
    assert check(probe).json() == {"repeat": False, "case": None}
    first = intake(VISIT).json()  # at a grid of 柳湾村: the same place as the village
    found = check(probe).json()
    assert found["repeat"] and found["case"]["number"] == first["number"] and found["case"]["subject"] == "地界争议"
    assert check({**probe, "category": "neighbour_dispute"}).json()["repeat"] is False
    assert check({**probe, "petitioners": [{"id_number": "110101198505121232"}]}).json()["repeat"] is False
    # a discipline report of the same person: a clerk cannot learn by asking that it exists
    report = {**VISIT, "category": "cadre_misconduct", "channel": "letter"}
    assert intake(report).status_code == 201
    assert check({**probe, "category": "cadre_misconduct"}).json() == {"repeat": False, "case": None}
    assert check(probe, scope="BY").status_code == 403  # a place outside the clerk's jurisdiction
    assert requests.post(f"{intake.base}/cases/repeat-check", json=probe,
                         headers=token("handler")).status_code == 403
    bad = check({"location": "QS01", "category": "land_dispute", "petitioners": [{"id_number": "123"}]})
    assert bad.status_code == 400 and [e["field"] for e in bad.json()["errors"]] == ["petitioners.0.id_number"]
    bad = check({"location": "XX", "category": "nope", "petitioners": [{}]})
    assert {e["field"] for e in bad.json()["errors"]} == {"location", "category", "petitioners"}
    # nothing counted, nothing emitted; each answered check is in the audit log with whom it
    # looked up (keyed fingerprints, not the phone) and which case it showed
    assert [r["repeat_count"] for r in intake.rows("SELECT repeat_count FROM cases")] == [0, 0]
    assert "case.repeat_linked" not in [e["type"] for e in outbox(intake)]
    audited = intake.rows("SELECT target, details FROM audit_log WHERE action LIKE '%%repeat%%' ORDER BY seq")
    assert [a["details"]["shown"] for a in audited] == [None, first["number"], None, None, None]
    looked_up = intake.rows("SELECT phone_hash FROM petitioners")[0]["phone_hash"]
    assert audited[1]["details"]["people"] == [looked_up] and "13800138000" not in str(audited)
