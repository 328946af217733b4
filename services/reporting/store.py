"""Reporting's read model: every event as received, and one row per case."""
import json


def record_event(tx, event, case_id):
    tx.execute(
        "INSERT INTO events (source, id, type, time, subject, case_id, correlationid, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (event["source"], event["id"], event["type"], event["time"], event.get("subject"), case_id,
         event["correlationid"], json.dumps(event["data"], ensure_ascii=False)),
    )


def apply_case_facts(tx, f):
    """Upsert the case row. Facts fill in what is known; the status moves only forward in event
    time, so events arriving out of order (they come over separate queues) settle correctly."""
    tx.execute(
        "INSERT INTO cases (case_id, number, township, category, channel, body, status, status_at, updated_at)"
        " VALUES (%(case_id)s, %(number)s, %(township)s, %(category)s, %(channel)s, %(body)s,"
        "         %(status)s, CASE WHEN %(status)s::text IS NULL THEN NULL ELSE %(at)s::timestamptz END, %(at)s)"
        " ON CONFLICT (case_id) DO UPDATE SET"
        "  township = COALESCE(EXCLUDED.township, cases.township),"
        "  category = COALESCE(EXCLUDED.category, cases.category),"
        "  channel  = COALESCE(EXCLUDED.channel, cases.channel),"
        "  body     = COALESCE(EXCLUDED.body, cases.body),"
        "  status   = CASE WHEN EXCLUDED.status IS NOT NULL"
        "                   AND (cases.status_at IS NULL OR EXCLUDED.status_at >= cases.status_at)"
        "             THEN EXCLUDED.status ELSE cases.status END,"
        "  status_at = GREATEST(cases.status_at, EXCLUDED.status_at),"
        "  updated_at = GREATEST(cases.updated_at, EXCLUDED.updated_at)",
        f,
    )


def find_case(db, number):
    rows = db.query("SELECT * FROM cases WHERE number = %s", (number,))
    return rows[0] if rows else None


def timeline(db, case_id):
    return db.query(
        "SELECT id, type, time, source, correlationid, data FROM events"
        " WHERE case_id = %s ORDER BY time, seq", (case_id,))


def counts_by_status(db):
    return {r["status"]: r["n"] for r in db.query(
        "SELECT coalesce(status, 'unknown') AS status, count(*) AS n FROM cases GROUP BY 1 ORDER BY 1")}
