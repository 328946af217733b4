"""Open311 GeoReport v2 on intake: categories as services, a form as a registration, a case as a
service request, routing's events as its status."""
from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from fengqiao.facts import Invalid
from fengqiao.logmask import mask_personal_data
from services.intake import domain, open311
from services.intake.schemas import CaseRegistrationSchema, Open311RequestForm

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")
NOW = datetime(2026, 5, 20, 4, 0, tzinfo=timezone.utc)
# The wiki's example POST, with a place of the sample county and a mainland phone.
FORM = {"api_key": "xyz", "service_code": "neighbour_dispute", "lat": "37.76524078", "long": "-122.4212043",
        "address_string": "1234 5th street", "address_id": "QS01", "email": "smit333@sfgov.edu",
        "device_id": "tt222111", "account_id": "123456", "first_name": "john", "last_name": "smith",
        "phone": "13800138000", "description": "A large sinkhole is destroying the street",
        "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"}


def registration(**change):
    form = Open311RequestForm().load({k: v for k, v in {**FORM, **change}.items() if v is not None})
    return CaseRegistrationSchema().load(open311.registration(form))


def test_each_category_is_a_service_grouped_by_its_channel_class():
    services = {s["service_code"]: s for s in open311.services(COUNTY)}
    assert list(services) == list(COUNTY.categories)
    assert services["neighbour_dispute"] == {
        "service_code": "neighbour_dispute", "service_name": "邻里纠纷", "description": "邻里纠纷（矛盾纠纷）。法定途径：人民调解",
        "metadata": True, "type": "realtime", "keywords": "邻里纠纷, 矛盾纠纷, 人民调解", "group": "矛盾纠纷"}
    assert {s["group"] for s in services.values()} <= set(open311.CLASS_LABELS.values())


def test_a_service_definition_lists_its_attributes_in_the_standards_shape():
    definition = open311.service_definition(COUNTY, "land_dispute")
    assert definition["service_code"] == "land_dispute"
    assert [a["code"] for a in definition["attributes"]] == ["subject", "hotline_order_id"]
    for order, attribute in enumerate(definition["attributes"], start=1):
        assert set(attribute) == {"variable", "code", "datatype", "required", "datatype_description", "order",
                                  "description"}
        assert attribute["order"] == order and attribute["variable"] is True
    assert open311.service_definition(COUNTY, "alchemy") is None


def test_the_wikis_request_becomes_an_online_registration_at_the_place_named():
    r = registration()
    assert r["channel"] == "online" and r["category"] == "neighbour_dispute" and r["location"] == "QS01"
    assert r["petitioners"] == [{"name": "john smith", "phone": "13800138000", "id_number": None, "address": None}]
    assert r["anonymous"] is False
    assert r["subject"] == "A large sinkhole is destroying the street"
    assert r["description"].splitlines() == [
        "A large sinkhole is destroying the street", "地点：1234 5th street", "坐标：37.76524078, -122.4212043",
        "图片：http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"]
    case = domain.new_case(COUNTY, r)  # the registration's own rules accept it
    assert case["township"] == "QS" and case["channel_class"] == "civil_dispute"


def test_e_mail_device_and_account_are_not_kept():
    text = repr(registration())
    assert "smit333" not in text and "tt222111" not in text and "123456" not in text


def test_a_hotline_work_order_makes_a_hotline_registration_and_a_subject_may_be_given():
    form = Open311RequestForm().load({**FORM, "attributes": {"hotline_order_id": "12345-0001", "subject": "路面塌陷"}})
    r = CaseRegistrationSchema().load(open311.registration(form))
    assert r["channel"] == "hotline" and r["hotline"] == {"order_id": "12345-0001"} and r["subject"] == "路面塌陷"


@pytest.mark.parametrize("first, last, name", [
    ("某某", "王", "王某某"),         # 姓在前, no space
    ("john", "smith", "john smith"),
    (None, "王", "王"),
    (None, None, None),
])
def test_a_name_is_written_as_its_language_writes_it(first, last, name):
    assert open311.person_name(first, last) == name


def test_nobody_named_is_an_anonymous_online_request():
    r = registration(first_name=None, last_name=None, phone=None)
    assert r["anonymous"] is True and r["petitioners"] == []
    domain.new_case(COUNTY, r)


def test_a_phone_without_a_name_is_refused_as_the_forms_name():
    with pytest.raises(ValidationError) as err:
        registration(first_name=None, last_name=None)
    assert open311.form_field("petitioners.0.name") == "last_name"
    assert "petitioners" in err.value.messages


@pytest.mark.parametrize("description, subject", [
    ("院墙占道。邻居扩建院墙占用通道", "院墙占道"),
    ("第一行\n第二行", "第一行"),
    ("长" * 80, "长" * 49 + "…"),
])
def test_the_subject_defaults_to_the_first_sentence_shortened(description, subject):
    assert open311.default_subject(description) == subject


@pytest.mark.parametrize("field, form_field", [
    ("location", "address_id"), ("category", "service_code"), ("subject", "attribute[subject]"),
    ("hotline.order_id", "attribute[hotline_order_id]"), ("petitioners.0.phone", "phone"),
    ("attributes.colour", "attribute[colour]"), ("description", "description"),
])
def test_registration_errors_are_named_as_the_client_sent_the_field(field, form_field):
    assert open311.form_field(field) == form_field


def test_the_form_refuses_what_it_does_not_know_and_says_where_the_place_goes():
    with pytest.raises(ValidationError) as err:
        Open311RequestForm().load({"service_code": "x", "description": "d", "colour": "red",
                                   "attributes": {"colour": "red"}, "lat": "north"})
    messages = err.value.messages
    assert set(messages) == {"address_id", "colour", "attributes", "lat"}
    assert "not by coordinates" in messages["address_id"][0]


def test_only_this_countys_jurisdiction_is_served():
    assert open311.jurisdiction_errors(COUNTY, None) == {}
    assert open311.jurisdiction_errors(COUNTY, "SH") == {}
    assert set(open311.jurisdiction_errors(COUNTY, "NYC")) == {"jurisdiction_id"}


@pytest.mark.parametrize("outcome, notice", [
    ({"outcome": "registered", "number": "QS-2026-000001"}, "已登记，案件编号 QS-2026-000001"),
    ({"outcome": "repeat_linked", "number": "QS-2026-000001", "repeat_count": 2}, "重复信访，第 2 次"),
    ({"outcome": "same_hotline_order", "number": "QS-2026-000001"}, "此前已登记为 QS-2026-000001"),
])
def test_the_service_notice_says_what_became_of_the_request(outcome, notice):
    assert notice in open311.service_notice(outcome)


# --- GET requests ------------------------------------------------------------------------------

QUERY = {"service_request_id": None, "service_code": None, "start_date": None, "end_date": None, "status": None}


def search(**change):
    return open311.search(COUNTY, {**QUERY, **change}, NOW)


def test_a_search_covers_the_last_90_days_by_default():
    s = search()
    assert (s["since"], s["until"]) == (NOW - timedelta(days=90), NOW)
    assert s["numbers"] is None and s["codes"] is None and s["closed"] is None


def test_one_date_given_spans_90_days_from_it():
    start = NOW - timedelta(days=200)
    assert search(start_date=start)["until"] == start + timedelta(days=90)
    assert search(end_date=start)["since"] == start - timedelta(days=90)


def test_service_request_ids_override_every_other_filter():
    s = search(service_request_id="QS-2026-000001, BY-2026-000002", status="closed", service_code="heating")
    assert s == {"numbers": ["QS-2026-000001", "BY-2026-000002"], "codes": None, "since": None, "until": None,
                 "closed": None}


@pytest.mark.parametrize("status, closed", [("open", False), ("closed", True), ("open,closed", None)])
def test_status_filters_open_or_closed(status, closed):
    assert search(status=status)["closed"] is closed


def test_bad_filters_are_named_each():
    with pytest.raises(Invalid) as err:
        search(start_date=NOW - timedelta(days=100), end_date=NOW, status="pending", service_code="heating,alchemy")
    assert set(err.value.errors) == {"end_date", "status", "service_code"}
    with pytest.raises(Invalid) as err:
        search(start_date=NOW, end_date=NOW - timedelta(days=1))
    assert set(err.value.errors) == {"end_date"}
    with pytest.raises(Invalid):
        search(service_request_id=" , ")


CASE = {"number": "QS-2026-000001", "category": "neighbour_dispute", "description": "邻居扩建院墙占用通道",
        "location": "QS01-G2", "received_at": NOW, "registered_at": NOW + timedelta(seconds=1),
        "guided_to": None, "status_at": None, "agency": None, "lifecycle": "registered"}


def test_a_case_answers_every_field_of_the_standard_and_nothing_of_the_petitioner():
    got = open311.service_request(COUNTY, CASE)
    assert list(got) == ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                         "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                         "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]
    assert got["service_request_id"] == "QS-2026-000001" and got["status"] == "open"
    assert got["service_name"] == "邻里纠纷" and got["service_notice"] == "法定途径：人民调解"
    assert got["requested_datetime"] == "2026-05-20T12:00:00+08:00"  # county time, with its offset (w3)
    assert got["updated_datetime"] == "2026-05-20T12:00:01+08:00"
    assert got["address"] == "松河县清水镇柳湾村" and got["address_id"] == "QS01-G2"


@pytest.mark.parametrize("lifecycle, status", [
    ("registered", "open"), ("assigned", "open"), ("signed", "open"), ("returned", "open"), ("in_progress", "open"),
    ("suspended", "open"), ("under_review", "open"),
    ("resolved", "closed"), ("followed_up", "closed"), ("closed", "closed"), ("not_accepted", "closed"),
])
def test_open_or_closed_follows_the_lifecycle(lifecycle, status):
    got = open311.service_request(COUNTY, {**CASE, "lifecycle": lifecycle})
    assert got["status"] == status and got["status_notes"] == open311.STATUS_NOTES[lifecycle]


def test_a_case_guided_to_its_lawful_route_at_the_window_is_closed_with_the_route():
    got = open311.service_request(COUNTY, {**CASE, "lifecycle": "guided", "guided_to": {"label": "向人民法院提起诉讼"}})
    assert got["status"] == "closed" and got["status_notes"] == "已引导至法定途径：向人民法院提起诉讼"


def test_a_status_routing_may_add_later_is_open_and_no_note_is_made_up():
    got = open311.service_request(COUNTY, {**CASE, "lifecycle": "mediating"})
    assert got["status"] == "open" and got["status_notes"] is None


def test_routing_events_say_the_status_and_an_assignment_the_body():
    event = {"type": "case.assigned", "time": "2026-05-20T04:00:00.000001Z",
             "data": {"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "status": "assigned",
                      "body_name": "柳湾村人民调解委员会"}}
    change = open311.status_change(event)
    assert change == {"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "status": "assigned",
                      "at": NOW + timedelta(microseconds=1), "agency": "柳湾村人民调解委员会"}
    closed = open311.status_change({**event, "type": "case.closed", "data": {**event["data"], "status": "closed"}})
    assert closed["status"] == "closed" and closed["agency"] is None
    assert open311.status_change({**event, "data": {"case_id": "x"}}) is None


def test_a_token_sent_as_api_key_never_reaches_a_log():
    line = '"GET /open311/v2/requests.json?api_key=eyJhbGciOi.eyJzdWIi-_x.c2ln&status=open HTTP/1.1" 200'
    assert mask_personal_data(line) == '"GET /open311/v2/requests.json?api_key=****&status=open HTTP/1.1" 200'


def test_dates_at_the_ends_of_the_calendar_search_without_overflowing():
    now = datetime(2026, 12, 2, tzinfo=timezone.utc)
    early = open311.search(COUNTY, {**QUERY, "end_date": datetime(1, 1, 5, tzinfo=timezone.utc)}, now)
    late = open311.search(COUNTY, {**QUERY, "start_date": datetime(9999, 12, 30, tzinfo=timezone.utc)}, now)
    assert early["since"] is None and late["until"] is None
