"""Leader reception days (领导坐班接访): the township publishes which leader receives visitors
when and where (接访安排); petitioners book an appointment (预约) with the leader on duty; a
visit registered at a reception records the leader who received it.

The rules come first, free of HTTP, broker and SQL; the units of work at the end run them
inside one transaction with the SQL of reception_store."""
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.intake import reception_store as store
from fengqiao import facts
from fengqiao.facts import Refused
from services.intake.domain import Rejected
from services.intake.personal_data import mask, normalize_phone

DEFAULT_ROSTER_DAYS = 31   # a roster asked for without an end shows about a month
MAX_ROSTER_DAYS = 366      # and never more than a year at once


class Conflict(Refused):
    """Well formed, but the roster as it stands refuses it (HTTP 409)."""


class NotFound(facts.NotFound):
    """No such session or appointment (HTTP 404)."""


# --- sessions (接访安排) ---------------------------------------------------------------

def new_session(county, request, now):
    """A session ready to be stored, its times in county time; Rejected naming each bad field."""
    tz = ZoneInfo(county.timezone)
    starts_at = datetime.combine(request["date"], request["start"], tz)
    ends_at = datetime.combine(request["date"], request["end"], tz)
    errors = {}
    if township_problem(county, request["township"]):
        errors["township"] = township_problem(county, request["township"])
    if ends_at <= starts_at:
        errors["end"] = "must be after start, on the same day"
    if request["capacity"] < 1:
        errors["capacity"] = "at least one appointment must be possible"
    if request["date"] < now.astimezone(tz).date():
        errors["date"] = "lies in the past"
    elif starts_at <= now:
        errors["start"] = "has already passed"
    if errors:
        raise Rejected(errors)
    return {"id": uuid.uuid4(), "published_at": now, "starts_at": starts_at, "ends_at": ends_at,
            **{k: request[k] for k in ("township", "leader_id", "leader_name", "leader_post", "place", "capacity")}}


def ensure_no_overlap(county, overlapping):
    """A leader receives in one place at a time."""
    if overlapping:
        other = overlapping[0]
        raise Conflict(f"{other['leader_name']} already receives at {other['place']} from "
                       f"{_local(county, other['starts_at'])} to {_local(county, other['ends_at'])}"
                       f" (reception {other['id']})")


def roster_window(county, query, now):
    """(township, since, until) of a roster from `date_from` to `date_to` inclusive, in county
    time; from today and for about a month when not given."""
    tz = ZoneInfo(county.timezone)
    date_from = query["date_from"] or now.astimezone(tz).date()
    date_to = query["date_to"] or date_from + timedelta(days=DEFAULT_ROSTER_DAYS - 1)
    errors = {}
    if township_problem(county, query["township"]):
        errors["township"] = township_problem(county, query["township"])
    if date_to < date_from:
        errors["to"] = "is before from"
    elif (date_to - date_from).days >= MAX_ROSTER_DAYS:
        errors["to"] = f"a roster spans at most {MAX_ROSTER_DAYS} days"
    if errors:
        raise Rejected(errors)
    return (query["township"], datetime.combine(date_from, datetime.min.time(), tz),
            datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tz))


def township_problem(county, township):
    node = county.nodes.get(township)
    return None if node is not None and node.level == "township" else "not a township of this county"


def session_view(county, session, booked=0):
    """A session as the roster shows it: times in county time, places still free."""
    return {**session, "starts_at": _local(county, session["starts_at"]),
            "ends_at": _local(county, session["ends_at"]),
            "booked": booked, "remaining": max(session["capacity"] - booked, 0)}


def scheduled_event(county, session):
    """The data of `reception.scheduled`: the roster is public to staff, so nothing is masked."""
    return {"reception_id": str(session["id"]),
            **{k: session[k] for k in ("township", "leader_id", "leader_name", "leader_post")},
            "starts_at": _local(county, session["starts_at"]).isoformat(),
            "ends_at": _local(county, session["ends_at"]).isoformat(),
            "place": session["place"], "capacity": session["capacity"]}


def _local(county, moment):
    return moment.astimezone(ZoneInfo(county.timezone))


# --- appointments (预约) -------------------------------------------------------------

def booking_problem(session, now):
    """Why this session takes no more appointments, or None."""
    if session["ends_at"] <= now:
        return "the reception is over"
    if session["booked"] >= session["capacity"]:
        return f"the reception is full ({session['capacity']} appointments)"
    return None


def new_appointment(vault, reception_id, request, now):
    """An appointment as stored: the phone sealed with the petitioners' vault, never in clear."""
    phone = normalize_phone(request["phone"])
    if phone is None:
        raise Rejected({"phone": "not a mainland mobile or landline number"})
    return {"id": uuid.uuid4(), "reception_id": reception_id, "name": request["name"],
            "subject": request["subject"], "booked_at": now, "cancelled_at": None,
            "phone_sealed": vault.encrypt(phone), "phone_hash": vault.fingerprint("phone", phone),
            "phone_last4": phone[-4:]}


def appointment_view(appointment):
    """What anyone sees of an appointment: the phone masked."""
    return {**{k: appointment[k] for k in ("id", "reception_id", "name", "subject", "booked_at", "cancelled_at")},
            "phone": mask(appointment["phone_last4"]),
            "status": "cancelled" if appointment["cancelled_at"] else "booked"}


# --- a visit received at a reception -----------------------------------------------------

def visit_problem(county, session, case):
    """Why `case` cannot be registered as a visit received at `session`, or None: only a visit,
    in the session's township, received on the session's day (county time)."""
    if case["channel"] != "visit":
        return "only for channel visit: a visit received at a leader's reception"
    if session is None:
        return "no such reception"
    if session["township"] != case["township"]:
        return f"the reception is in township {session['township']}, the case in {case['township']}"
    day = _local(county, session["starts_at"]).date()
    if _local(county, case["received_at"]).date() != day:
        return f"the reception is on {day}, not on the day the visit was received"
    return None


def received_by(session):
    """What the case's details record of the reception: who received the visit."""
    return {"reception_id": str(session["id"]), "leader_id": session["leader_id"],
            "leader_name": session["leader_name"]}


def parse_id(text):
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"no reception or appointment {text}") from None


# --- units of work (one transaction each) --------------------------------------------

def publish(tx, county, request, now):
    session = new_session(county, request, now)
    store.lock_leader(tx, session["leader_id"])
    ensure_no_overlap(county, store.overlapping_sessions(tx, session["leader_id"], session["starts_at"],
                                                         session["ends_at"]))
    store.insert_session(tx, session)
    tx.emit("reception.scheduled", scheduled_event(county, session), subject=str(session["id"]))
    return session


def book(tx, vault, reception_id, request, now):
    session = store.session_for_booking(tx, reception_id)
    if session is None:
        raise NotFound(f"no reception {reception_id}")
    problem = booking_problem(session, now)
    if problem:
        raise Conflict(problem)
    appointment = new_appointment(vault, reception_id, request, now)
    if store.phone_has_booked(tx, reception_id, appointment["phone_hash"]):
        raise Conflict("this phone already has an appointment at this reception")
    store.insert_appointment(tx, appointment)
    # No event: an appointment carries a petitioner's name and phone, and no service outside
    # intake needs it yet. The visit it leads to is registered, and announced, as a case.
    return appointment


def cancel(tx, reception_id, appointment_id, now):
    """Cancel an appointment, freeing its place; cancelling it again changes nothing."""
    appointment = store.find_appointment(tx, reception_id, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment {appointment_id} at reception {reception_id}")
    if appointment["cancelled_at"] is None:
        if store.find_session(tx, reception_id)["ends_at"] <= now:
            raise Conflict("the reception is over; its appointments stay as they were")
        store.cancel_appointment(tx, appointment_id, now)
        appointment = {**appointment, "cancelled_at": now}
    return appointment


def received_at_session(tx, county, reception_id, case):
    """The case's `details.reception` for a visit received at a reception; Rejected naming
    `reception_id` when it cannot be."""
    session = store.find_session(tx, reception_id) if case["channel"] == "visit" else None
    problem = visit_problem(county, session, case)
    if problem:
        raise Rejected({"reception_id": problem})
    return received_by(session)
