"""Reporting's read model: every event as received, one row per case folded from them, and the
queries the indicators, lists, hotspots and exports ask."""
import json

from psycopg.types.json import Jsonb

from services.reporting.projection import ENDED, new_row

ROW_COLUMNS = [c for c in new_row(None) if c != "case_id"] + ["next_due_at", "deadlines"]
FILTERS = ("township", "village", "category", "channel", "body")


def record_event(tx, event, case_id):
    """Keep the event; False when it was recorded before (a redelivery)."""
    return tx.execute(
        "INSERT INTO events (source, id, type, time, subject, case_id, correlationid, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source, id) DO NOTHING RETURNING seq",
        (event["source"], event["id"], event["type"], event["time"], event.get("subject"), case_id,
         event["correlationid"], json.dumps(event["data"], ensure_ascii=False)),
    ).fetchone() is not None


def lock_case(tx, case_id, number):
    """The case's row, made if new and locked: the events of one case are folded one at a time."""
    tx.execute("INSERT INTO cases (case_id, number) VALUES (%s, %s) ON CONFLICT (case_id) DO NOTHING",
               (case_id, number))
    tx.execute("SELECT case_id FROM cases WHERE case_id = %s FOR UPDATE", (case_id,))


def events_of(tx, case_id):
    return tx.execute("SELECT seq, source, id, type, time, correlationid, data FROM events WHERE case_id = %s"
                      " ORDER BY time, seq", (case_id,)).fetchall()


def save_row(tx, row):
    values = {**row, "deadlines": Jsonb(row["deadlines"])}
    tx.execute(f"UPDATE cases SET {', '.join(f'{c} = %({c})s' for c in ROW_COLUMNS)} WHERE case_id = %(case_id)s",
               values)


def cases_in_events(tx):
    """(case_id, number) of every case the events speak of."""
    return tx.execute("SELECT DISTINCT ON (case_id) case_id, data->>'number' AS number FROM events"
                      " WHERE case_id IS NOT NULL ORDER BY case_id, seq").fetchall()


def find_case(tx, number):
    return tx.execute("SELECT * FROM cases WHERE number = %s", (number,)).fetchone()


def counts_by_status(tx):
    return {r["status"]: r["n"] for r in tx.execute(
        "SELECT coalesce(status, 'unknown') AS status, count(*) AS n FROM cases GROUP BY 1 ORDER BY 1")}


# --- indicators -------------------------------------------------------------------------------

def _where(filters, period=None, column="registered_at", alias=""):
    """A WHERE clause and its parameters for the filters (and a [start, end) period)."""
    clauses, params = ["true"], []
    if period is not None:
        clauses.append(f"{alias}{column} >= %s AND {alias}{column} < %s")
        params += list(period)
    for name in FILTERS:
        if filters.get(name):
            clauses.append(f"{alias}{name} = %s")
            params.append(filters[name])
    return " AND ".join(clauses), params


def case_counts(tx, filters, period):
    where, params = _where(filters, period)
    return tx.execute(f"""
        SELECT count(*) AS registered,
               count(*) FILTER (WHERE status = 'guided') AS guided,
               count(*) FILTER (WHERE decided_at IS NOT NULL OR acceptance_overdue) AS due_for_decision,
               count(*) FILTER (WHERE decided_at IS NOT NULL AND NOT acceptance_overdue) AS decided_on_time,
               count(*) FILTER (WHERE accepted_at IS NOT NULL) AS accepted,
               count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved,
               count(*) FILTER (WHERE resolved_at IS NOT NULL AND NOT handling_overdue) AS resolved_on_time,
               count(*) FILTER (WHERE rating IS NOT NULL) AS rated,
               count(*) FILTER (WHERE rating IN ('satisfied', 'basically_satisfied')) AS satisfied,
               count(*) FILTER (WHERE repeat_count > 0) AS repeated,
               count(*) FILTER (WHERE resolved_at IS NOT NULL AND repeat_count = 0) AS resolved_first_time,
               count(*) FILTER (WHERE resolution_tier = 'village') AS resolved_in_village,
               count(*) FILTER (WHERE resolution_tier = 'township') AS resolved_in_township,
               count(*) FILTER (WHERE escalated_to_county) AS sent_to_county
        FROM cases WHERE registered_at IS NOT NULL AND {where}""", params).fetchone()


def mediation_counts(tx, filters, period):
    """Mediation files concluded in the period, on cases the filters select; `body` is the body
    that mediated, not the one that has the case now."""
    where, params = _where({k: v for k, v in filters.items() if k != "body"}, alias="c.")
    return tx.execute(f"""
        SELECT count(*) FILTER (WHERE e.data->>'outcome' = 'agreement') AS agreements,
               count(*) FILTER (WHERE e.data->>'outcome' = 'no_agreement') AS failures
        FROM events e JOIN cases c ON c.case_id = e.case_id
        WHERE e.type = 'mediation.concluded' AND e.time >= %s AND e.time < %s
          AND (%s::text IS NULL OR e.data->>'mediating_body' = %s) AND {where}""",
        [*period, filters.get("body"), filters.get("body"), *params]).fetchone()


def backlog(tx, filters, now):
    """Open cases (not ended) by age in days since registration."""
    where, params = _where(filters)
    return tx.execute(f"""
        SELECT CASE WHEN age <= 30 THEN '0-30' WHEN age <= 60 THEN '31-60' WHEN age <= 90 THEN '61-90'
                    WHEN age <= 180 THEN '91-180' WHEN age <= 365 THEN '181-365' ELSE '365+' END AS bucket,
               count(*) AS n, max(age) AS oldest_days
        FROM (SELECT extract(day FROM %s - registered_at)::int AS age FROM cases
              WHERE registered_at IS NOT NULL AND status <> ALL(%s) AND {where}) open
        GROUP BY 1""", [now, list(ENDED), *params]).fetchall()


def overdue(tx, filters, now, limit=500):
    where, params = _where(filters)
    return tx.execute(f"""
        SELECT number, township, village, category, body, risk, status, registered_at, deadlines, next_due_at
        FROM cases WHERE next_due_at < %s AND {where}
        ORDER BY next_due_at LIMIT %s""", [now, *params, limit]).fetchall()


def ledger(tx, filters, period, limit=100_000):
    where, params = _where(filters, period)
    return tx.execute(f"""
        SELECT number, registered_at, channel, township, village, category, channel_class, subject, status, body,
               risk, repeat_count, resolved_at, outcome, rating, closed_at
        FROM cases WHERE registered_at IS NOT NULL AND {where} ORDER BY registered_at, number LIMIT %s""",
        [*params, limit]).fetchall()


# --- hotspots ---------------------------------------------------------------------------------

def monthly_by_place_and_category(tx, start, end, tz, township=None):
    """(place, category, month) counts of cases registered in [start, end), months in county time."""
    return tx.execute("""
        SELECT coalesce(village, township) AS place, category,
               to_char(registered_at AT TIME ZONE %s, 'YYYY-MM') AS month, count(*) AS n
        FROM cases WHERE registered_at >= %s AND registered_at < %s AND (%s::text IS NULL OR township = %s)
        GROUP BY 1, 2, 3""", (tz, start, end, township, township)).fetchall()


def monthly_events_by_place(tx, event_type, start, end, tz, township=None):
    """(place, month) counts of one event type about cases (repeat petitions, cluster joins)."""
    return tx.execute("""
        SELECT coalesce(c.village, c.township) AS place, to_char(e.time AT TIME ZONE %s, 'YYYY-MM') AS month,
               count(*) AS n
        FROM events e JOIN cases c ON c.case_id = e.case_id
        WHERE e.type = %s AND e.time >= %s AND e.time < %s AND (%s::text IS NULL OR c.township = %s)
        GROUP BY 1, 2""", (tz, event_type, start, end, township, township)).fetchall()


def open_alarms(tx, now, township=None):
    """How many open cases are overdue now, and how many are red (in a township, or all)."""
    return tx.execute("""
        SELECT (SELECT count(*) FROM cases WHERE next_due_at < %s AND (%s::text IS NULL OR township = %s))
                   AS overdue_cases,
               (SELECT count(*) FROM cases WHERE risk = 'red' AND status <> ALL(%s)
                AND (%s::text IS NULL OR township = %s)) AS open_red_cases""",
        (now, township, township, list(ENDED), township, township)).fetchone()


# --- gauges -----------------------------------------------------------------------------------

def open_by_township_and_risk(tx):
    return tx.execute("SELECT township, risk, count(*) AS n FROM cases WHERE status <> ALL(%s)"
                      " AND township IS NOT NULL GROUP BY 1, 2", (list(ENDED),)).fetchall()


def overdue_by_township(tx, now):
    return tx.execute("SELECT township, count(*) AS n FROM cases WHERE next_due_at < %s"
                      " AND township IS NOT NULL GROUP BY 1", (now,)).fetchall()


def oldest_open_registration(tx):
    return tx.execute("SELECT min(registered_at) AS at FROM cases WHERE status <> ALL(%s)",
                      (list(ENDED),)).fetchone()["at"]
