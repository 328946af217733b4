"""Leader reception days (领导坐班接访): the rules of the roster, its appointments (预约) and a
visit received at a reception, without broker or database."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from marshmallow import ValidationError

from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from services.intake import domain, reception
from services.intake.personal_data import Vault
from services.intake.schemas import (
    APPOINTMENT_EXAMPLE, RECEPTION_EXAMPLE, AppointmentRequestSchema, CaseRegistrationSchema,
    ReceptionPublicationSchema, RosterQuery,
)

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # 10:00 in county time (Asia/Shanghai)
SESSION = {**RECEPTION_EXAMPLE, "date": "2026-12-07"}
VAULT = Vault([Fernet.generate_key()], "hash-key")


def publication(**change):
    """A publication as the HTTP edge hands it to the rules."""
    return ReceptionPublicationSchema().load({**SESSION, **change})


def rejected(request, now=NOW):
    with pytest.raises(domain.Rejected) as err:
        reception.new_session(COUNTY, request, now)
    return err.value.errors


def test_a_session_is_held_in_county_time():
    session = reception.new_session(COUNTY, publication(), NOW)
    assert session["starts_at"] == datetime(2026, 12, 7, 0, 30, tzinfo=timezone.utc)
    assert session["ends_at"] == datetime(2026, 12, 7, 3, 30, tzinfo=timezone.utc)
    assert session["leader_post"] == "镇党委书记" and session["capacity"] == 8
    view = reception.session_view(COUNTY, session, booked=3)
    assert view["starts_at"].isoformat() == "2026-12-07T08:30:00+08:00" and view["remaining"] == 5


@pytest.mark.parametrize("change, field", [
    ({"end": "08:30"}, "end"),          # ends as it starts
    ({"end": "08:00"}, "end"),
    ({"township": "QS01"}, "township"),  # a village keeps no leader's roster
    ({"township": "XX"}, "township"),
    ({"date": "2026-11-29"}, "date"),    # yesterday in county time
])
def test_bad_sessions_are_refused_naming_the_field(change, field):
    assert set(rejected(publication(**change))) == {field}


def test_a_session_of_today_that_has_already_begun_cannot_be_published():
    assert set(rejected(publication(date="2026-11-30", start="09:00", end="11:00"))) == {"start"}
    later = reception.new_session(COUNTY, publication(date="2026-11-30", start="10:30", end="11:30"), NOW)
    assert later["starts_at"] > NOW


def test_capacity_is_at_least_one():
    assert set(rejected({**publication(), "capacity": 0})) == {"capacity"}
    with pytest.raises(ValidationError):
        publication(capacity=0)  # the HTTP edge refuses it too


def test_times_carry_no_offset_of_their_own():
    with pytest.raises(ValidationError):
        publication(start="08:30+00:00")


def test_a_leader_receives_in_one_place_at_a_time():
    other = {"id": uuid.uuid4(), "leader_name": "张某某", "place": "白杨乡接访室",
             "starts_at": datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc),
             "ends_at": datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)}
    with pytest.raises(reception.Conflict, match="白杨乡接访室 from 2026-12-07 09:00:00"):
        reception.ensure_no_overlap(COUNTY, [other])
    reception.ensure_no_overlap(COUNTY, [])


def test_the_published_event_names_the_leader_and_the_times():
    session = reception.new_session(COUNTY, publication(), NOW)
    event = reception.scheduled_event(COUNTY, session)
    assert event["reception_id"] == str(session["id"]) and event["leader_id"] == "QS-LEADER-01"
    assert event["starts_at"] == "2026-12-07T08:30:00+08:00" and event["capacity"] == 8


def roster(**query):
    return reception.roster_window(COUNTY, RosterQuery().load({"township": "QS", **query}), NOW)


def test_a_roster_runs_from_the_first_to_the_last_day_inclusive_in_county_time():
    township, since, until = roster(**{"from": "2026-12-01", "to": "2026-12-31"})
    assert township == "QS"
    assert since == datetime(2026, 11, 30, 16, tzinfo=timezone.utc)
    assert until == datetime(2026, 12, 31, 16, tzinfo=timezone.utc)


def test_a_roster_without_dates_shows_about_a_month_from_today():
    _, since, until = roster()
    assert since == datetime(2026, 11, 29, 16, tzinfo=timezone.utc)
    assert until - since == timedelta(days=reception.DEFAULT_ROSTER_DAYS)


@pytest.mark.parametrize("query, field", [
    ({"township": "NOPE"}, "township"),
    ({"from": "2026-12-31", "to": "2026-12-01"}, "to"),
    ({"from": "2026-01-01", "to": "2027-12-31"}, "to"),
])
def test_bad_roster_queries_are_refused(query, field):
    with pytest.raises(domain.Rejected) as err:
        roster(**query)
    assert set(err.value.errors) == {field}


def session_with(booked, ends_in=timedelta(hours=2)):
    return {"capacity": 2, "booked": booked, "ends_at": NOW + ends_in}


def test_a_session_takes_appointments_until_full_or_over():
    assert reception.booking_problem(session_with(1), NOW) is None
    assert "full" in reception.booking_problem(session_with(2), NOW)
    assert "over" in reception.booking_problem(session_with(0, ends_in=timedelta(0)), NOW)


def test_an_appointment_keeps_the_phone_sealed_and_shows_it_masked():
    request = AppointmentRequestSchema().load({**APPOINTMENT_EXAMPLE, "phone": "+86 138 0013 8000"})
    appointment = reception.new_appointment(VAULT, uuid.uuid4(), request, NOW)
    assert "13800138000" not in str(appointment["phone_sealed"]) + appointment["phone_hash"]
    assert VAULT.decrypt(appointment["phone_sealed"]) == "13800138000"
    assert appointment["phone_hash"] == VAULT.fingerprint("phone", "13800138000")  # as a petitioner's
    view = reception.appointment_view(appointment)
    assert view["phone"] == "****8000" and view["status"] == "booked" and "phone_sealed" not in view


def test_an_appointment_needs_a_real_phone():
    with pytest.raises(ValidationError):
        AppointmentRequestSchema().load({**APPOINTMENT_EXAMPLE, "phone": "12345"})


SESSION_TODAY = {"id": uuid.uuid4(), "township": "QS", "leader_id": "QS-LEADER-01", "leader_name": "张某某",
                 "starts_at": datetime(2026, 11, 30, 0, 30, tzinfo=timezone.utc),
                 "ends_at": datetime(2026, 11, 30, 3, 30, tzinfo=timezone.utc)}


def visit(**change):
    registration = CaseRegistrationSchema().load({
        "channel": "visit", "location": "QS01", "category": "land_dispute", "subject": "地界",
        "description": "两户地界争议", "petitioners": [{"name": "王某某"}], **change})
    return domain.new_case(COUNTY, registration, now=NOW)


def test_a_visit_at_todays_reception_records_the_leader():
    assert reception.visit_problem(COUNTY, SESSION_TODAY, visit()) is None
    assert reception.received_by(SESSION_TODAY) == {
        "reception_id": str(SESSION_TODAY["id"]), "leader_id": "QS-LEADER-01", "leader_name": "张某某"}


@pytest.mark.parametrize("session, change, words", [
    (SESSION_TODAY, {"channel": "letter"}, "only for channel visit"),
    (None, {}, "no such reception"),
    ({**SESSION_TODAY, "township": "BY"}, {}, "township BY"),
    ({**SESSION_TODAY, "starts_at": SESSION_TODAY["starts_at"] + timedelta(days=1)}, {}, "2026-12-01"),
    (SESSION_TODAY, {"received_at": "2026-11-29T15:59:00+00:00"}, "not on the day"),  # 23:59 the day before
])
def test_a_visit_is_received_only_at_a_reception_of_its_township_that_day(session, change, words):
    assert words in reception.visit_problem(COUNTY, session, visit(**change))


def test_ids_in_paths_that_are_no_uuid_are_simply_not_found():
    with pytest.raises(reception.NotFound):
        reception.parse_id("42")
    assert reception.parse_id(str(SESSION_TODAY["id"])) == SESSION_TODAY["id"]
