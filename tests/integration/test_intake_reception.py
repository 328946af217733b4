"""Leader reception days (领导坐班接访) over HTTP on the real database: the township's roster,
appointments (预约) until the session is full, the phone sealed at rest, and a visit received
at a reception recording its leader in the case and in `case.registered`."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import eventlet
import pytest
import requests

from fengqiao import catalog
from services.intake.schemas import APPOINTMENT_EXAMPLE, RECEPTION_EXAMPLE
from services.intake.service import IntakeService
from tests.integration.conftest import pool_of, web_port
from tests.integration.test_intake_http import INTAKE_DIR, token

COUNTY_TIME = ZoneInfo("Asia/Shanghai")
TOMORROW = (datetime.now(COUNTY_TIME) + timedelta(days=1)).date()
SESSION = {**RECEPTION_EXAMPLE, "date": TOMORROW.isoformat(), "capacity": 2}
PHONE = "13900139000"
VISIT = {"channel": "visit", "location": "QS01", "category": "land_dispute", "subject": "宅基地界址",
         "description": "宅基地界址争议，来镇里找书记", "petitioners": [{"name": "李某某", "phone": PHONE}]}


@pytest.fixture
def intake(run_service, fresh_database):
    url = fresh_database(INTAKE_DIR)
    container = run_service(IntakeService, url)
    base = f"http://127.0.0.1:{web_port(container)}"

    def call(method, path, body=None, role="clerk", **params):
        return requests.request(method, f"{base}{path}", json=body, params=params or None, headers=token(role))

    def rows(query, params=None):
        with pool_of(url) as pool, pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    call.rows = rows
    return call


def publish(intake, role="leader", **change):
    return intake("POST", "/receptions", {**SESSION, **change}, role=role)


def book(intake, reception_id, **change):
    return intake("POST", f"/receptions/{reception_id}/appointments", {**APPOINTMENT_EXAMPLE, **change})


def outbox(intake, type):
    return [r["envelope"] for r in intake.rows("SELECT envelope FROM outbox ORDER BY seq")
            if r["envelope"]["type"] == type]


def test_a_published_session_is_on_its_townships_roster_and_announced(intake):
    r = publish(intake)
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["starts_at"] == f"{TOMORROW}T08:30:00+08:00" and session["remaining"] == 2
    publish(intake, township="BY", leader_id="BY-LEADER-01", leader_name="赵某某", leader_post="乡长")
    later = (TOMORROW + timedelta(days=40)).isoformat()
    publish(intake, date=later)

    shown = intake("GET", "/receptions", role="handler", township="QS", **{"from": str(TOMORROW), "to": str(TOMORROW)})
    assert shown.status_code == 200
    assert [s["id"] for s in shown.json()] == [session["id"]]
    assert shown.json()[0]["leader_post"] == "镇党委书记" and shown.json()[0]["booked"] == 0
    whole = intake("GET", "/receptions", township="QS", **{"from": str(TOMORROW), "to": later}).json()
    assert len(whole) == 2 and all(s["township"] == "QS" for s in whole)

    events = outbox(intake, "reception.scheduled")
    assert len(events) == 3
    event = events[0]
    assert event["subject"] == session["id"]
    assert event["data"] == {"reception_id": session["id"], "township": "QS", "leader_id": "QS-LEADER-01",
                             "leader_name": "张某某", "leader_post": "镇党委书记",
                             "starts_at": f"{TOMORROW}T08:30:00+08:00", "ends_at": f"{TOMORROW}T11:30:00+08:00",
                             "place": "清水镇综治中心接访室", "capacity": 2}
    assert catalog.data_errors(catalog.load(), event) == []


def test_a_leader_cannot_receive_in_two_places_at_once(intake):
    assert publish(intake).status_code == 201
    r = publish(intake, township="BY", start="11:00", end="12:00", place="白杨乡接访室")
    assert r.status_code == 409 and r.headers["Content-Type"] == "application/problem+json"
    assert "清水镇综治中心接访室" in r.json()["detail"]
    assert publish(intake, start="11:30", end="12:00").status_code == 201  # right after: fine
    assert publish(intake, leader_id="QS-LEADER-02", leader_name="刘某某").status_code == 201  # another leader


def test_overlapping_sessions_published_at_the_same_moment_give_one(intake):
    starts = ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30"]
    responses = list(eventlet.GreenPool(6).imap(lambda s: publish(intake, start=s, end="12:00"), starts))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    assert len(intake.rows("SELECT id FROM reception_sessions")) == 1


@pytest.mark.parametrize("change, field", [
    ({"end": "08:00"}, "end"),
    ({"date": "2020-01-06"}, "date"),
    ({"capacity": 0}, "capacity"),
    ({"township": "QS01"}, "township"),
    ({"start": "8 o'clock"}, "start"),
    ({"leader_name": "  "}, "leader_name"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_sessions_are_refused_naming_the_field_and_write_nothing(intake, change, field):
    r = publish(intake, **change)
    assert r.status_code == 400 and field in {e["field"] for e in r.json()["errors"]}
    assert intake.rows("SELECT id FROM reception_sessions") == [] and outbox(intake, "reception.scheduled") == []


def test_only_clerks_operators_and_leaders_publish(intake):
    assert publish(intake, role="handler").status_code == 403
    assert publish(intake, role="clerk").status_code == 201


def test_bookings_until_full_then_409_and_a_cancellation_frees_a_place(intake):
    reception_id = publish(intake).json()["id"]
    first = book(intake, reception_id)
    assert first.status_code == 201, first.text
    assert first.json()["phone"] == "****8000" and first.json()["status"] == "booked"
    assert book(intake, reception_id, phone="13700137000").status_code == 201
    full = book(intake, reception_id, phone="13600136000")
    assert full.status_code == 409 and "full" in full.json()["detail"]
    roster = intake("GET", "/receptions", township="QS", **{"from": str(TOMORROW)}).json()
    assert roster[0]["booked"] == 2 and roster[0]["remaining"] == 0

    cancelled = intake("DELETE", f"/receptions/{reception_id}/appointments/{first.json()['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = intake("DELETE", f"/receptions/{reception_id}/appointments/{first.json()['id']}")
    assert again.status_code == 200 and again.json()["cancelled_at"] == cancelled.json()["cancelled_at"]
    assert book(intake, reception_id, phone="13600136000").status_code == 201


def test_the_same_phone_books_a_session_once(intake):
    reception_id = publish(intake, capacity=5).json()["id"]
    assert book(intake, reception_id).status_code == 201
    twice = book(intake, reception_id, phone="+86 138 0013 8000", name="王某")
    assert twice.status_code == 409 and "phone" in twice.json()["detail"]
    assert len(intake.rows("SELECT id FROM reception_appointments")) == 1


def test_concurrent_bookings_never_overfill_a_session(intake):
    reception_id = publish(intake, capacity=3).json()["id"]
    phones = [f"1350000000{i}" for i in range(8)]
    responses = list(eventlet.GreenPool(8).imap(lambda p: book(intake, reception_id, phone=p), phones))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 5
    assert len(intake.rows("SELECT id FROM reception_appointments")) == 3


def test_a_session_that_is_over_takes_no_booking_and_no_cancellation(intake):
    reception_id = publish(intake).json()["id"]
    appointment = book(intake, reception_id).json()
    intake.rows("UPDATE reception_sessions SET starts_at = starts_at - interval '3 days',"
                " ends_at = ends_at - interval '3 days' RETURNING id")
    over = book(intake, reception_id, phone="13700137000")
    assert over.status_code == 409 and "over" in over.json()["detail"]
    assert intake("DELETE", f"/receptions/{reception_id}/appointments/{appointment['id']}").status_code == 409


def test_the_phone_of_an_appointment_is_sealed_at_rest(intake):
    reception_id = publish(intake).json()["id"]
    assert book(intake, reception_id).status_code == 201
    [row] = intake.rows("SELECT * FROM reception_appointments")
    stored = " ".join(str(v) for v in row.values())
    assert APPOINTMENT_EXAMPLE["phone"] not in stored and APPOINTMENT_EXAMPLE["phone"][:7] not in stored
    assert row["phone_sealed"] and row["phone_hash"] and row["phone_last4"] == "8000"


@pytest.mark.parametrize("path", ["/receptions/not-a-uuid/appointments",
                                  "/receptions/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c/appointments"])
def test_booking_an_unknown_session_is_404(intake, path):
    assert intake("POST", path, APPOINTMENT_EXAMPLE).status_code == 404


def test_bad_bookings_are_refused_naming_the_field(intake):
    reception_id = publish(intake).json()["id"]
    r = book(intake, reception_id, phone="12345")
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["phone"]
    assert intake.rows("SELECT id FROM reception_appointments") == []


def held_today(intake, **change):
    """A session published for tomorrow, then moved to today (a session of today that has
    already begun could not be published)."""
    reception_id = publish(intake, **change).json()["id"]
    intake.rows("UPDATE reception_sessions SET starts_at = starts_at - interval '1 day',"
                " ends_at = ends_at - interval '1 day' RETURNING id")
    return reception_id


def test_a_visit_received_at_a_reception_records_the_leader(intake):
    reception_id = held_today(intake)
    r = intake("POST", "/cases", {**VISIT, "reception_id": reception_id})
    assert r.status_code == 201, r.text
    received = {"reception_id": reception_id, "leader_id": "QS-LEADER-01", "leader_name": "张某某"}
    case = intake("GET", f"/cases/{r.json()['number']}").json()
    assert case["details"]["reception"] == received
    [event] = outbox(intake, "case.registered")
    assert event["data"]["details"]["reception"] == received
    assert catalog.data_errors(catalog.load(), event) == []


@pytest.mark.parametrize("change, words", [
    ({"channel": "letter"}, "only for channel visit"),
    ({"location": "BY01"}, "township"),
    ({"reception_id": "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"}, "no such reception"),
    ({"reception_id": "yesterday"}, "UUID"),
])
def test_a_reception_id_that_does_not_fit_is_refused_naming_it(intake, change, words):
    reception_id = held_today(intake)
    r = intake("POST", "/cases", {**VISIT, "reception_id": reception_id, **change})
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "reception_id" and words in error["message"]
    assert intake.rows("SELECT id FROM cases") == []


def test_a_visit_at_a_reception_of_another_day_is_refused(intake):
    reception_id = publish(intake).json()["id"]  # tomorrow
    r = intake("POST", "/cases", {**VISIT, "reception_id": reception_id})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "reception_id"
