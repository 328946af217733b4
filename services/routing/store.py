"""Routing's SQL: the cases it handles (their whole handling record) and their whistles."""
import json
from datetime import datetime

from psycopg.types.json import Jsonb


def _json(record):
    return Jsonb(json.loads(json.dumps(record, default=_iso)))


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def insert_case(tx, case):
    """Record a newly registered case; False if it was recorded before."""
    row = tx.execute(
        "INSERT INTO cases (id, number, township, location, category, status, registered_at, correlationid, record)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING 1",
        (case["id"], case["number"], case["township"], case["location"], case["category"], case["status"],
         case["registered_at"], case["correlationid"], _json(case))).fetchone()
    return row is not None


def save_case(tx, case):
    tx.execute(
        "UPDATE cases SET status = %s, body = %s, reason = %s, assigned_at = %s, risk = %s, tier = %s, record = %s"
        " WHERE id = %s",
        (case["status"], case.get("body"), case.get("reason"), case.get("assigned_at"), case["risk"],
         case.get("tier"), _json(case), case["id"]))


def _case_of(row):
    if row is None:
        return None
    case = dict(row["record"])
    case["registered_at"] = row["registered_at"]
    case["correlationid"] = row["correlationid"]
    return case


def lock_case(tx, number, nowait=False):
    """The case for a command, locked until the transaction ends (commands on one case queue).
    `nowait`: refuse at once (psycopg LockNotAvailable) rather than wait for another holder."""
    return _case_of(tx.execute("SELECT * FROM cases WHERE number = %s FOR UPDATE" + (" NOWAIT" if nowait else ""),
                               (number,)).fetchone())


def lock_case_by_id(tx, case_id):
    return _case_of(tx.execute("SELECT * FROM cases WHERE id = %s FOR UPDATE", (case_id,)).fetchone())


def find_case(tx, number):
    return _case_of(tx.execute("SELECT * FROM cases WHERE number = %s", (number,)).fetchone())


def queue(tx, scope, finished, body=None, status=None, risk=None, limit=50):
    """Open cases the caller may see (`scope`: access.sql_filter over `c`), red ones first, then
    by the deadline that falls due first (the overdue before the rest), then the oldest."""
    where, params = [scope[0], "c.status <> ALL(%s)"], [*scope[1], list(finished) if status is None else []]
    for column, value in (("c.body", body), ("c.status", status), ("c.risk", risk)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    rows = tx.execute(
        "SELECT c.*, (SELECT min(d.due_at) FROM deadlines d WHERE d.owner_id = c.id AND d.stopped_at IS NULL"
        "             AND d.paused_at IS NULL) AS next_due_at"
        f" FROM cases c WHERE {' AND '.join(where)}"
        " ORDER BY c.risk = 'red' DESC, next_due_at NULLS LAST, c.registered_at, c.number LIMIT %s",
        (*params, limit)).fetchall()
    return [_case_of(r) for r in rows]


def insert_whistle(tx, whistle):
    tx.execute("INSERT INTO whistles (id, case_id, status, raised_at, record) VALUES (%s, %s, %s, %s, %s)",
               (whistle["id"], whistle["case_id"], whistle["status"], whistle["raised_at"], _json(whistle)))


def lock_whistle(tx, whistle_id, nowait=False):
    row = tx.execute("SELECT record FROM whistles WHERE id = %s FOR UPDATE" + (" NOWAIT" if nowait else ""),
                     (whistle_id,)).fetchone()
    return dict(row["record"]) if row else None


def save_whistle(tx, whistle):
    tx.execute("UPDATE whistles SET status = %s, record = %s WHERE id = %s",
               (whistle["status"], _json(whistle), whistle["id"]))


def whistles_of(tx, case_id):
    return [r["record"] for r in tx.execute("SELECT record FROM whistles WHERE case_id = %s ORDER BY raised_at",
                                            (case_id,))]


def open_whistles(tx, case_id):
    return [dict(r["record"]) for r in tx.execute(
        "SELECT record FROM whistles WHERE case_id = %s AND status = 'open' ORDER BY raised_at FOR UPDATE", (case_id,))]


def hold_early_repeat(tx, case_id, repeat_count, petitioners):
    """Keep a repeat petition that arrived before its case's registration (they travel on
    separate queues); the registration applies it. A guided case's repeats stay here unused."""
    tx.execute("INSERT INTO early_repeats (case_id, repeat_count, petitioners) VALUES (%s, %s, %s)",
               (case_id, repeat_count, petitioners))


def take_early_repeats(tx, case_id):
    return tx.execute("DELETE FROM early_repeats WHERE case_id = %s RETURNING repeat_count, petitioners",
                      (case_id,)).fetchall()
