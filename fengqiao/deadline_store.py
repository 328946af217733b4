"""Deadlines in a service's database (table `deadlines`, a backbone migration): start, pause,
resume, stop and extend them, and the sweep that emits the reminders and overdue notices owed.

The arithmetic is in deadlines.py. `sweep` emits `deadline.due_soon` / `deadline.overdue` and
records the notice in the same transaction, so a notice is recorded exactly when its event is
committed."""
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import partial

from psycopg.errors import LockNotAvailable
from psycopg.types.json import Jsonb

from fengqiao import deadlines as dl
from fengqiao.facts import Refused

log = logging.getLogger(__name__)
RETRY_FAILED_NOTICE_AFTER = timedelta(minutes=1)


class DeadlineError(Refused):
    """A deadline command the deadline's state does not allow (a service answers 409)."""


class ExtensionRefused(DeadlineError):
    pass


class Busy(Exception):
    """What a notice concerns is locked by a command right now: the notice waits for the next sweep."""


@dataclass(frozen=True)
class Due:
    """A notice a deadline owes: kind "due_soon" (key: threshold such as "80%") or "overdue"
    (key: days overdue, 0 at the due moment). `first`: the first overdue notice of this due
    moment, however late the sweep saw it. `deadline` is the locked row."""
    kind: str
    key: object
    deadline: dict
    data: dict
    first: bool = False
    reached: tuple = ()
    next_alert_at: datetime | None = None  # once this notice is recorded


_INSERT = (
    "INSERT INTO deadlines (id, owner_id, owner_number, township, policy, duration, unit, max_extension_days,"
    " started_at, due_at, next_alert_at, correlationid, context)"
    " VALUES (%(id)s, %(owner_id)s, %(owner_number)s, %(township)s, %(policy)s, %(duration)s, %(unit)s,"
    " %(max_extension_days)s, %(started_at)s, %(due_at)s, %(next_alert_at)s, %(correlationid)s, %(context)s)"
    # already running: starting it again changes nothing (events are redelivered, facts repeat)
    " ON CONFLICT (owner_id, policy) WHERE stopped_at IS NULL DO NOTHING RETURNING *")


def _jsonb(value):
    return Jsonb(value or {}, dumps=partial(json.dumps, default=str, ensure_ascii=False))


def _seconds(delta):
    """A timedelta as exact seconds for the numeric column."""
    return Decimal(delta // timedelta(microseconds=1)) / 1_000_000


def _terms(row):
    """The terms a deadline started with, as a policy for the arithmetic."""
    return dl.Policy(row["policy"], row["duration"], row["unit"], max_extension_days=row["max_extension_days"])


def _utc_now():
    return datetime.now(timezone.utc)


# --- commands -----------------------------------------------------------------------------

def start(tx, policy, owner, started_at, calendar, context=None):
    """Start `policy` for `owner` ({id, number, township, correlationid}); the new row, or None
    when one is running already."""
    row = {"id": uuid.uuid4(), "owner_id": owner["id"], "owner_number": owner.get("number"),
           "township": owner.get("township"), "policy": policy.name, "duration": policy.duration,
           "unit": policy.unit, "max_extension_days": policy.max_extension_days, "started_at": started_at,
           "due_at": dl.due_at(policy, started_at, calendar), "correlationid": owner.get("correlationid"),
           "paused_at": None, "paused_seconds": 0, "stopped_at": None, "reminders_sent": [],
           "overdue_days_sent": -1}
    row["next_alert_at"] = dl.next_alert_at(policy, row)
    return tx.execute(_INSERT, {**row, "context": _jsonb(context)}).fetchone()


def _running(tx, owner_id, policy_name):
    return tx.execute(
        "SELECT * FROM deadlines WHERE owner_id = %s AND policy = %s AND stopped_at IS NULL FOR UPDATE",
        (owner_id, policy_name)).fetchone()


def pause(tx, owner_id, policy_name, at):
    """Stop the clock; the updated row, or None if nothing was running unpaused."""
    return tx.execute(
        "UPDATE deadlines SET paused_at = %s, next_alert_at = NULL"
        " WHERE owner_id = %s AND policy = %s AND stopped_at IS NULL AND paused_at IS NULL RETURNING *",
        (at, owner_id, policy_name)).fetchone()


def resume(tx, owner_id, policy_name, at, calendar):
    """Restart the clock: the pause is credited, the due moment recomputed. None if not paused."""
    row = _running(tx, owner_id, policy_name)
    if row is None or row["paused_at"] is None:
        return None
    paused = dl.to_timedelta(row["paused_seconds"]) + max(at - row["paused_at"], timedelta(0))
    return _redue(tx, row, at, calendar, paused_seconds=_seconds(paused), paused_at=None)


def extend(tx, owner_id, policy_name, days, calendar, at=None):
    """Add `days` (of the policy's unit) to the running deadline, within max_extension_days in
    all; ExtensionRefused beyond it, DeadlineError when no such deadline runs."""
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise DeadlineError(f"an extension is a positive number of days, not {days!r}")
    row = _running(tx, owner_id, policy_name)
    if row is None:
        raise DeadlineError(f"no running {policy_name} deadline to extend")
    limit = row["max_extension_days"]
    if limit is None:
        raise ExtensionRefused(f"the {policy_name} deadline cannot be extended")
    if row["extension_days"] + days > limit:
        raise ExtensionRefused(
            f"the {policy_name} deadline may be extended by at most {limit} days in all; "
            f"{row['extension_days']} granted already, {days} asked")
    return _redue(tx, row, at or _utc_now(), calendar, extension_days=row["extension_days"] + days)


def _redue(tx, row, at, calendar, **changes):
    """Save `changes` with the due moment they imply. A due moment moved past `at` is a new one:
    its overdue notices start again at day 0. The sweep recomputes the next alert exactly."""
    new = {**row, **changes}
    due = dl.due_at(_terms(new), new["started_at"], calendar, new["paused_seconds"], new["extension_days"])
    overdue_sent = -1 if due > at else new["overdue_days_sent"]
    next_alert = None if new["paused_at"] is not None else at
    return tx.execute(
        "UPDATE deadlines SET paused_at = %s, paused_seconds = %s, extension_days = %s, due_at = %s,"
        " overdue_days_sent = %s, next_alert_at = %s WHERE id = %s RETURNING *",
        (new["paused_at"], new["paused_seconds"], new["extension_days"], due, overdue_sent, next_alert,
         row["id"])).fetchone()


def stop(tx, owner_id, policy_name, at):
    """The deadline is met (or moot); the stopped row, or None if none was running."""
    return tx.execute(
        "UPDATE deadlines SET stopped_at = %s, next_alert_at = NULL"
        " WHERE owner_id = %s AND policy = %s AND stopped_at IS NULL RETURNING *",
        (at, owner_id, policy_name)).fetchone()


def switch(tx, owner_id, old_name, policy, calendar, at):
    """The same clock under another policy (a mediation file found complex after all): it keeps
    its start, its pauses and its context; the due moment follows the new terms. The new row,
    or None when no `old_name` deadline was running."""
    row = stop(tx, owner_id, old_name, at)
    if row is None:
        return None
    owner = {"id": owner_id, "number": row["owner_number"], "township": row["township"],
             "correlationid": row["correlationid"]}
    new = start(tx, policy, owner, row["started_at"], calendar, row["context"])
    return _redue(tx, new, at, calendar, paused_seconds=row["paused_seconds"], paused_at=row["paused_at"])


def set_context(tx, owner_id, context):
    """What the running deadlines of an owner tell their notices (its body, its people) now."""
    tx.execute("UPDATE deadlines SET context = %s WHERE owner_id = %s AND stopped_at IS NULL",
               (_jsonb(context), owner_id))


def apply_event(tx, policies, calendar, owner, event_type, at, context=None):
    """Start, pause, resume or stop the policies `event_type` concerns, for `owner`. Idempotent:
    starting a running deadline or stopping a stopped one changes nothing. Returns the changes
    made as (action, policy name, row)."""
    done = []
    for action, policy in dl.actions_for(policies, event_type):
        if action == "start":
            row = start(tx, policy, owner, at, calendar, context)
        elif action == "pause":
            row = pause(tx, owner["id"], policy.name, at)
        elif action == "resume":
            row = resume(tx, owner["id"], policy.name, at, calendar)
        else:
            row = stop(tx, owner["id"], policy.name, at)
        if row is not None:
            done.append((action, policy.name, row))
    return done


# --- queries ------------------------------------------------------------------------------

def _iso(moment):
    return moment.astimezone(timezone.utc).isoformat()


def active(tx_or_db, owner_id, now=None, include_stopped=False):
    """The running deadlines of an owner (or all it ever had), for display, earliest due first."""
    return active_of(tx_or_db, [owner_id], now, include_stopped).get(str(owner_id), [])


def active_of(tx_or_db, owner_ids, now=None, include_stopped=False):
    """The running deadlines of many owners in one query (a desk's queue), by each owner's id
    as text: {"owner id": [...]}."""
    sql = ("SELECT * FROM deadlines WHERE owner_id = ANY(%s)" + ("" if include_stopped else " AND stopped_at IS NULL")
           + " ORDER BY due_at, policy")
    owner_ids = list(owner_ids)
    if hasattr(tx_or_db, "execute"):  # a Tx or a connection
        rows = tx_or_db.execute(sql, (owner_ids,)).fetchall()
    else:  # a DatabaseHandle
        rows = tx_or_db.query(sql, (owner_ids,))
    now = now or _utc_now()
    found = {}
    for r in rows:
        found.setdefault(str(r["owner_id"]), []).append({
            "policy": r["policy"], "started_at": _iso(r["started_at"]), "due_at": _iso(r["due_at"]),
            **({"stopped_at": r["stopped_at"] and _iso(r["stopped_at"])} if include_stopped else {}),
            "paused": r["paused_at"] is not None, "extension_days": r["extension_days"],
            # a clock that starts later (an agreement's performance check) has used nothing yet
            "share_used": max(round(dl.share_used(r, now), 3), 0.0)})
    return found


# --- the sweep ----------------------------------------------------------------------------

_CLAIM = (
    "SELECT * FROM deadlines"
    " WHERE stopped_at IS NULL AND paused_at IS NULL AND next_alert_at <= %s AND policy = ANY(%s)"
    # several replicas sweep at once (ENGINEERING pitfall 10): a row another one holds is its
    # to notice; it is recorded before that transaction commits
    " ORDER BY next_alert_at, id LIMIT %s FOR UPDATE SKIP LOCKED")


def claim_due(tx, now, policies, calendar, limit=100):
    """Lock the deadlines owing a notice at `now` (rows locked by another sweeper are skipped)
    and return one Due each, in a stable order. Deadlines of policies no longer in the file are
    left alone."""
    found = []
    for row in tx.execute(_CLAIM, (now, list(policies), limit)).fetchall():
        policy = policies[row["policy"]]
        alert = dl.pending(policy, row, now)
        if alert is None:  # the hint was early (after a resume, an extension or a file change)
            tx.execute("UPDATE deadlines SET next_alert_at = %s WHERE id = %s",
                       (dl.next_alert_at(policy, row), row["id"]))
            continue
        found.append(_due(policy, row, alert, now, calendar))
    return found


def _due(policy, row, alert, now, calendar):
    after = {**row, "reminders_sent": _sent_after(row, alert),
             "overdue_days_sent": alert.key if alert.kind == "overdue" else row["overdue_days_sent"]}
    data = {"deadline_id": str(row["id"]), "policy": row["policy"], "owner_id": str(row["owner_id"]),
            "case_id": (row["context"] or {}).get("case_id"),
            "number": row["owner_number"], "township": row["township"], "started_at": _iso(row["started_at"]),
            "due_at": _iso(row["due_at"]),
            # the last day in county time, for notices ("办理期限至 2026-02-26")
            "due_date": calendar.local_date(row["due_at"] - timedelta(microseconds=1)).isoformat(),
            "share_used": round(dl.share_used(row, now), 3), "context": row["context"]}
    if alert.kind == "overdue":
        data["days_overdue"] = alert.key
    else:
        data["threshold"] = alert.key
    return Due(alert.kind, alert.key, row, data, alert.first, alert.reached, dl.next_alert_at(policy, after))


def _sent_after(row, alert):
    sent = list(row["reminders_sent"] or [])
    return sent + [k for k in alert.reached if k not in sent]


def mark_sent(tx, due):
    """Record that `due` was emitted (same transaction as the emit): it is never owed again."""
    row = due.deadline
    overdue = due.key if due.kind == "overdue" else row["overdue_days_sent"]
    tx.execute("UPDATE deadlines SET reminders_sent = %s, overdue_days_sent = %s, next_alert_at = %s WHERE id = %s",
               (_sent_after(row, dl.Alert(due.kind, due.key, due.reached)), overdue, due.next_alert_at, row["id"]))


def sweep(tx, now, deadlines, react=None, limit=100):
    """Emit every notice owed at `now` (a `deadlines.Deadlines`), each once even with several
    sweepers. `react(due)` lets the service act on a notice in the same savepoint (routing
    escalates a case at its first overdue notice). A notice whose reaction finds its subject
    locked (Busy, or a NOWAIT lock refused) waits for the next sweep; one that fails otherwise
    is logged and looked at again a minute later, and never holds back the others. Returns the
    notices sent."""
    sent = []
    for due in claim_due(tx, now, deadlines.policies, deadlines.calendar, limit):
        try:
            with tx.conn.transaction():  # a savepoint: a failed notice leaves the others alone
                tx.emit(f"deadline.{due.kind}", due.data, subject=due.data["case_id"] or due.data["owner_id"],
                        correlationid=due.deadline["correlationid"])
                if react is not None:
                    react(due)
                mark_sent(tx, due)
        except (Busy, LockNotAvailable):
            continue
        except Exception:
            log.exception("deadline %s (%s of %s): the notice failed; trying again later",
                          due.deadline["id"], due.deadline["policy"], due.deadline["owner_number"])
            tx.execute("UPDATE deadlines SET next_alert_at = %s WHERE id = %s",
                       (now + RETRY_FAILED_NOTICE_AFTER, due.deadline["id"]))
            continue
        sent.append(due)
    return sent
