"""Open311 GeoReport v2 on intake, over HTTP on the real database and broker, with the standard's
documented request and response shapes (https://wiki.open311.org/GeoReport_v2)."""
import time
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from fengqiao import auth, catalog, config
from fengqiao.events import new_event
from services.intake.schemas import REGISTRATION_EXAMPLE
from services.intake.service import IntakeService
from tests.integration.conftest import eventually, pool_of, publish, web_port

INTAKE_DIR = config.REPO_ROOT / "services" / "intake"
SERVICE_KEYS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
REQUEST_KEYS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
                "address", "address_id", "zipcode", "lat", "long", "media_url"]


def key(*roles, scope="SH"):
    s = config.settings("intake")
    return auth.issue(s.jwt_secret, s.jwt_audience, "open311-app", roles, scope)


CLERK = key("clerk")


def wiki_form(**change):
    """The wiki's example POST, at a village of the sample county with a mainland phone."""
    form = {"api_key": CLERK, "service_code": "neighbour_dispute", "lat": "37.76524078", "long": "-122.4212043",
            "address_string": "柳湾村3组东侧通道", "address_id": "QS01", "email": "smit333@sfgov.edu",
            "device_id": "tt222111", "account_id": "123456", "first_name": "某某", "last_name": "王",
            "phone": "13800138000", "description": "邻居扩建院墙占用两家共用的通道，协商未果，请求调解。",
            "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"}
    return {k: v for k, v in {**form, **change}.items() if v is not None}


@pytest.fixture
def intake(run_service, fresh_database, isolated):
    url = fresh_database(INTAKE_DIR)
    container = run_service(isolated(IntakeService), url)  # its own queue for routing's events
    return f"http://127.0.0.1:{web_port(container)}/open311/v2", url


def counts(url):
    with pool_of(url) as pool, pool.connection() as conn:
        return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"]
                for t in ("cases", "petitioners", "repeat_petitions", "outbox", "audit_log")}


def rows(url, sql, params=()):
    with pool_of(url) as pool, pool.connection() as conn:
        return conn.execute(sql, params).fetchall()


def post(base, form, **headers):
    return requests.post(f"{base}/requests.json", data=form, headers=headers)


def assert_open311_errors(r, status, fields=None):
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json"), r.text
    errors = r.json()
    assert isinstance(errors, list) and errors and all(set(e) == {"code", "description"} for e in errors)
    assert {e["code"] for e in errors} == {status}
    if fields is not None:
        assert {e["description"].split(":")[0] for e in errors} == fields
    return errors


# --- services ------------------------------------------------------------------------------------

def test_services_are_the_countys_categories_and_each_has_a_definition(intake):
    base, _ = intake
    services = requests.get(f"{base}/services.json", params={"api_key": CLERK}).json()
    assert [list(s) for s in services] == [SERVICE_KEYS] * len(services)
    neighbour = next(s for s in services if s["service_code"] == "neighbour_dispute")
    assert neighbour["service_name"] == "邻里纠纷" and neighbour["group"] == "矛盾纠纷"
    assert neighbour["metadata"] is True and neighbour["type"] == "realtime"

    definition = requests.get(f"{base}/services/neighbour_dispute.json", params={"api_key": CLERK}).json()
    assert list(definition) == ["service_code", "attributes"] and definition["service_code"] == "neighbour_dispute"
    assert {a["code"] for a in definition["attributes"]} == {"subject", "hotline_order_id"}

    assert_open311_errors(requests.get(f"{base}/services/alchemy.json", params={"api_key": CLERK}), 404)
    assert_open311_errors(requests.get(f"{base}/services.xml", params={"api_key": CLERK}), 400, {"format"})
    assert_open311_errors(requests.get(f"{base}/services.json", params={"api_key": CLERK, "jurisdiction_id": "sf"}),
                          400, {"jurisdiction_id"})
    assert requests.get(f"{base}/services.json", params={"api_key": CLERK, "jurisdiction_id": "SH"}).ok


# --- POST requests ---------------------------------------------------------------------------------

def test_the_wikis_form_post_registers_a_case_like_the_window_does(intake):
    base, url = intake
    r = post(base, wiki_form())
    assert r.status_code == 201, r.text
    [answer] = r.json()
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    number = answer["service_request_id"]
    assert number == f"QS-{datetime.now(ZoneInfo('Asia/Shanghai')).year}-000001"  # the case number
    assert answer["service_notice"] == f"已登记，案件编号 {number}" and answer["account_id"] is None
    assert r.headers["Location"] == f"/open311/v2/requests/{number}.json"

    [case] = rows(url, "SELECT * FROM cases")
    assert (case["channel"], case["location"], case["category"], case["anonymous"]) == ("online", "QS01",
                                                                                       "neighbour_dispute", False)
    assert case["subject"] == "邻居扩建院墙占用两家共用的通道，协商未果，请求调解"
    assert "地点：柳湾村3组东侧通道" in case["description"] and "图片：http://farm3" in case["description"]
    [person] = rows(url, "SELECT * FROM petitioners")
    assert person["name"] == "王某某" and person["phone_last4"] == "8000"
    assert person["phone_sealed"] and "13800138000" not in person["phone_sealed"]  # sealed at rest
    assert "smit333" not in repr(case) + repr(person)  # the e-mail is not kept
    [event] = rows(url, "SELECT routing_key, envelope FROM outbox")
    assert event["routing_key"] == "case.registered"
    assert event["envelope"]["data"]["petitioners"] == [{"name": "王某某", "id_number": None, "phone": "****8000"}]
    [audited] = rows(url, "SELECT subject, action FROM audit_log")
    assert audited == {"subject": "open311-app", "action": "POST /open311/v2/requests.{fmt}"}


def test_the_same_person_on_the_same_matter_again_is_a_repeat_and_a_hotline_order_is_one_case(intake):
    base, url = intake
    first = post(base, wiki_form()).json()[0]["service_request_id"]
    again = post(base, wiki_form(description="院墙还没拆，再次反映。"))
    assert again.status_code == 200
    assert again.json()[0]["service_request_id"] == first and "重复信访" in again.json()[0]["service_notice"]
    order = {"attribute[hotline_order_id]": "12345-20260520-0001", "attribute[subject]": "路灯不亮"}
    hotline = post(base, wiki_form(service_code="heating", phone=None, first_name=None, last_name=None, **order))
    assert hotline.status_code == 201
    same = post(base, wiki_form(service_code="heating", phone=None, first_name=None, last_name=None, **order))
    assert same.status_code == 200 and same.json()[0]["service_request_id"] == hotline.json()[0]["service_request_id"]
    assert [r["routing_key"] for r in rows(url, "SELECT routing_key FROM outbox ORDER BY seq")] == [
        "case.registered", "case.repeat_linked", "case.registered"]
    [hotline_case] = rows(url, "SELECT channel, subject, anonymous FROM cases WHERE channel = 'hotline'")
    assert hotline_case == {"channel": "hotline", "subject": "路灯不亮", "anonymous": True}


@pytest.mark.parametrize("change, fields", [
    ({"service_code": None, "description": None, "address_id": None},
     {"service_code", "description", "address_id"}),                      # the edge: what must be there
    ({"address_id": "NOWHERE", "service_code": "alchemy"}, {"address_id", "service_code"}),  # the domain's rules
    ({"phone": "12345", "last_name": None, "first_name": None}, {"phone", "last_name"}),   # POST /cases' checks
    ({"lat": "north", "media_url": "javascript:alert(1)", "email": "not-mail"}, {"lat", "media_url", "email"}),
    ({"colour": "red", "attribute[colour]": "red"}, {"colour", "attribute[colour]"}),
    ({"attribute[hotline_order_id]": "x" * 65, "attribute[subject]": "长" * 201},
     {"attribute[hotline_order_id]", "attribute[subject]"}),
    ({"jurisdiction_id": "sf"}, {"jurisdiction_id"}),
])
def test_bad_input_is_named_field_by_field_and_writes_nothing(intake, change, fields):
    base, url = intake
    before = counts(url)
    assert_open311_errors(post(base, wiki_form(**change)), 400, fields)
    assert counts(url) == before


def test_what_is_no_form_or_no_json_is_refused_and_writes_nothing(intake):
    base, url = intake
    before = counts(url)
    bearer = {"Authorization": f"Bearer {CLERK}"}
    assert_open311_errors(requests.post(f"{base}/requests.json", json=wiki_form(), headers=bearer), 415)
    assert_open311_errors(requests.post(f"{base}/requests.xml", data=wiki_form()), 400, {"format"})
    huge = requests.post(f"{base}/requests.json", data=b"description=" + b"a" * (2 * 1024 * 1024),
                         headers={**bearer, "Content-Type": "application/x-www-form-urlencoded"})
    assert_open311_errors(huge, 413)
    assert counts(url) == before


def test_the_api_key_or_the_bearer_header_carries_the_token_and_roles_and_scope_hold(intake):
    base, url = intake
    no_key = post(base, wiki_form(api_key=None))
    assert_open311_errors(no_key, 401)
    assert no_key.headers["WWW-Authenticate"] == "Bearer"
    assert_open311_errors(post(base, wiki_form(api_key="not-a-token")), 401)
    assert_open311_errors(post(base, wiki_form(api_key=key("handler"))), 403)      # may not register
    assert_open311_errors(post(base, wiki_form(api_key=key("clerk", scope="BY"))), 403)  # QS01 is not theirs
    in_query = requests.post(f"{base}/requests.json", params={"api_key": CLERK}, data=wiki_form(api_key=None))
    assert_open311_errors(in_query, 401)  # a POST's key goes in its form, as the standard says
    assert counts(url)["cases"] == 0
    assert post(base, wiki_form(api_key=None), Authorization=f"Bearer {CLERK}").status_code == 201
    assert_open311_errors(requests.get(f"{base}/requests.json"), 401)
    assert_open311_errors(requests.get(f"{base}/requests.json", params={"api_key": key("integrator")}), 403)


# --- GET requests ----------------------------------------------------------------------------------

def register(base, **change):
    return post(base, wiki_form(**change)).json()[0]["service_request_id"]


def get(base, path, api_key=CLERK, **params):
    return requests.get(f"{base}/{path}", params={"api_key": api_key, **params})


def test_requests_answer_the_standards_fields_filtered_and_within_the_callers_scope(intake):
    base, _ = intake
    qs = register(base)
    by = register(base, address_id="BY02", service_code="heating", phone="13900139000")
    window = requests.post(f"{base.rsplit('/open311', 1)[0]}/cases", headers={"Authorization": f"Bearer {CLERK}"},
                           json={**REGISTRATION_EXAMPLE, "category": "land_dispute"}).json()["number"]  # at the window

    found = get(base, "requests.json").json()
    assert [r["service_request_id"] for r in found] == [window, by, qs]  # newest first
    assert all(list(r) == REQUEST_KEYS for r in found)
    text = get(base, "requests.json", api_key=key("handler")).text  # any staff role reads
    assert "王某某" not in text and "13800138000" not in text and "8000" not in text  # no petitioner at all

    assert [r["service_request_id"] for r in get(base, "requests.json", service_code="heating").json()] == [by]
    assert [r["service_request_id"] for r in get(base, "requests.json", api_key=key("clerk", scope="BY")).json()] == [by]
    assert get(base, "requests.json", status="closed").json() == []
    assert len(get(base, "requests.json", status="open,closed").json()) == 3
    assert [r["service_request_id"] for r in get(base, "requests.json", service_request_id=f"{qs},{by},NOPE-1",
                                                 status="closed").json()] == [by, qs]  # ids override status
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    assert get(base, "requests.json", start_date=future).json() == []
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    assert len(get(base, "requests.json", start_date=past).json()) == 3
    assert_open311_errors(get(base, "requests.json", start_date=past, end_date="2000-01-01T00:00:00Z",
                              status="pending", service_code="alchemy"), 400, {"end_date", "status", "service_code"})
    assert_open311_errors(get(base, "requests.json", start_date="2026-05-01T00:00:00"), 400, {"start_date"})


def test_a_discipline_report_is_seen_only_in_the_discipline_scope(intake):
    base, _ = intake
    number = register(base, service_code="cadre_misconduct")
    assert get(base, "requests.json").json() == []
    assert_open311_errors(get(base, f"requests/{number}.json"), 404)
    officer = key("discipline_officer")
    assert [r["service_request_id"] for r in get(base, "requests.json", api_key=officer).json()] == [number]
    assert get(base, f"requests/{number}.json", api_key=officer).json()[0]["service_name"] == "干部违纪违法举报"


def test_one_request_by_its_number(intake):
    base, _ = intake
    number = register(base, address_id="QS01-G2")
    [found] = get(base, f"requests/{number}.json").json()
    assert list(found) == REQUEST_KEYS
    assert found["service_request_id"] == number and found["status"] == "open"
    assert found["status_notes"] == "已登记，待分流交办" and found["service_code"] == "neighbour_dispute"
    assert found["address_id"] == "QS01-G2" and found["address"] == "松河县清水镇柳湾村"
    assert found["requested_datetime"].endswith("+08:00") and found["agency_responsible"] is None
    assert_open311_errors(get(base, "requests/QS-2000-999999.json"), 404)
    assert_open311_errors(get(base, f"requests/{number}.json", api_key=key("clerk", scope="BY")), 404)
    assert_open311_errors(get(base, f"requests/{number}.xml"), 400, {"format"})


# --- status, from routing's events ---------------------------------------------------------------------

def routing_event(type, case_id, number, at, **data):
    example = catalog.load()[type]["example"]
    event = new_event("routing", type, {**example, "case_id": case_id, "number": number, **data}, subject=case_id)
    return {**event, "time": at.isoformat().replace("+00:00", "Z")}


def test_open_or_closed_follows_routings_events_whatever_order_they_arrive_in(intake, amqp_uri):
    base, url = intake
    number = register(base)
    [case] = rows(url, "SELECT id FROM cases WHERE number = %s", (number,))
    case_id, t0 = str(case["id"]), datetime.now(timezone.utc)

    def status():
        return get(base, f"requests/{number}.json").json()[0]

    publish(amqp_uri, "routing", routing_event("case.assigned", case_id, number, t0 + timedelta(seconds=1)))
    assigned = eventually(lambda: status()["agency_responsible"] and status())
    assert (assigned["status"], assigned["status_notes"], assigned["agency_responsible"]) == (
        "open", "已交办，待签收", "柳湾村人民调解委员会")
    publish(amqp_uri, "routing", routing_event("case.resolved", case_id, number, t0 + timedelta(seconds=3)))
    resolved = eventually(lambda: status()["status"] == "closed" and status())
    assert resolved["status_notes"] == "已办结并答复"
    assert resolved["updated_datetime"] > assigned["updated_datetime"]
    # an older event arriving late, and one about a case intake does not have, change nothing
    publish(amqp_uri, "routing", routing_event("case.accepted", case_id, number, t0 + timedelta(seconds=2)))
    publish(amqp_uri, "routing", routing_event("case.closed", str(uuid.uuid4()), "QS-2000-000009", t0))
    other = register(base, address_id="QS02", phone="13900139000")  # its assignment: a sign the others were taken
    [other_id] = rows(url, "SELECT id FROM cases WHERE number = %s", (other,))
    publish(amqp_uri, "routing", routing_event("case.assigned", str(other_id["id"]), other, t0))
    eventually(lambda: get(base, f"requests/{other}.json").json()[0]["agency_responsible"])
    time.sleep(0.3)  # the events before it may be handled by other workers at the same moment
    assert status()["status"] == "closed" and status()["status_notes"] == "已办结并答复"
    assert [r["service_request_id"] for r in get(base, "requests.json", status="closed").json()] == [number]
    assert [r["service_request_id"] for r in get(base, "requests.json", status="open").json()] == [other]


def test_reading_requests_is_audited_without_the_token_sent_in_the_query(intake):
    base, url = intake
    number = register(base)
    assert get(base, f"requests/{number}.json").status_code == 200
    [read] = rows(url, "SELECT action, target FROM audit_log WHERE action LIKE 'GET%%'")
    assert read["action"] == "GET /open311/v2/requests/{service_request_id}.{fmt}"
    assert read["target"].endswith("?api_key=****") and CLERK not in read["target"]
