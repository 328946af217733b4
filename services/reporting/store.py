"""Reporting's read model: every event as received, one row per case folded from them, and the
queries the indicators, lists, hotspots and exports ask."""
import hashlib
import json
from datetime import timedelta

from psycopg.types.json import Jsonb

from fengqiao import access
from services.reporting import tallies
from services.reporting.projection import new_row

ROW_COLUMNS = [c for c in new_row(None) if c != "case_id"] + ["next_due_at", "deadlines"]
FILTERS = tallies.DIMENSIONS
# What each case counts for in the indicators, as a condition on its row: the one definition the
# counts of rows, the tallies built from the rows and the tallies kept as rows change all use.
FLAGS = {
    "registered": "true",
    "guided": "status = 'guided'",
    "due_for_decision": "decided_at IS NOT NULL OR acceptance_overdue",
    "decided_on_time": "decided_at IS NOT NULL AND NOT acceptance_overdue",
    "accepted": "accepted_at IS NOT NULL",
    "resolved": "resolved_at IS NOT NULL",
    "resolved_on_time": "resolved_at IS NOT NULL AND NOT handling_overdue",
    "rated": "rating IS NOT NULL",
    "satisfied": "rating IN ('satisfied', 'basically_satisfied')",
    "repeated": "repeat_count > 0",
    "resolved_first_time": "resolved_at IS NOT NULL AND repeat_count = 0",
    "resolved_in_village": "resolution_tier = 'village'",
    "resolved_in_township": "resolution_tier = 'township'",
    "sent_to_county": "escalated_to_county",
}
COUNTS = [*FLAGS, *tallies.MEDIATION_COUNTS]
# A row as the tallies see it: its dimensions, days and what it counts for.
TALLIED = ", ".join([*tallies.DIMENSIONS, "registered_at", "mediations",
                     "jsonb_build_object(" + ", ".join(f"'{n}', coalesce(({e}), false)::int" for n, e in FLAGS.items())
                     + ") AS counts"])


def record_event(tx, event, case_id):
    """Keep the event; False when it was recorded before (a redelivery)."""
    return tx.execute(
        "INSERT INTO events (source, id, type, time, subject, case_id, correlationid, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source, id) DO NOTHING RETURNING seq",
        (event["source"], event["id"], event["type"], event["time"], event.get("subject"), case_id,
         event["correlationid"], json.dumps(event["data"], ensure_ascii=False)),
    ).fetchone() is not None


def lock_case(tx, case_id, number):
    """The case's row as the tallies see it, made if new and locked: the events of one case are
    folded one at a time."""
    return tx.execute(  # DO UPDATE (to itself) locks an existing row and returns it, in one statement
        f"INSERT INTO cases (case_id, number) VALUES (%s, %s) ON CONFLICT (case_id) DO UPDATE SET case_id ="
        f" excluded.case_id RETURNING {TALLIED}", (case_id, number)).fetchone()


def events_of(tx, case_id):
    return tx.execute("SELECT seq, source, id, type, time, correlationid, data FROM events WHERE case_id = %s"
                      " ORDER BY time, seq", (case_id,)).fetchall()


def save_row(tx, row):
    """Write the folded row; returns it as the tallies see it."""
    values = {**row, "deadlines": Jsonb(row["deadlines"]), "mediations": Jsonb(row["mediations"])}
    return tx.execute(f"UPDATE cases SET {', '.join(f'{c} = %({c})s' for c in ROW_COLUMNS)}"
                      f" WHERE case_id = %(case_id)s RETURNING {TALLIED}", values).fetchone()


def cases_in_events(tx):
    """(case_id, number) of every case the events speak of."""
    return tx.execute("SELECT DISTINCT ON (case_id) case_id, data->>'number' AS number FROM events"
                      " WHERE case_id IS NOT NULL ORDER BY case_id, seq").fetchall()


def find_case(tx, number):
    return tx.execute("SELECT * FROM cases WHERE number = %s", (number,)).fetchone()


def counts_by_status(tx, filters):
    where, params = _where(filters)
    return {r["status"]: r["n"] for r in tx.execute(
        f"SELECT coalesce(status, 'unknown') AS status, count(*) AS n FROM cases WHERE {where} GROUP BY 1 ORDER BY 1",
        params)}


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
    if filters.get("hide_discipline"):  # lists name cases: discipline reports only for their officers …
        clauses.append(f"{alias}channel_class <> '{access.DISCIPLINE}'")  # … and a case whose class is unknown yet
    return " AND ".join(clauses), params


def indicator_counts(tx, filters, days, bounds, timezone):
    """Every count of the indicators for cases registered in [first, last) county days (mediation
    conclusions in them): from the tallies when they hold these filters, else from the rows."""
    key = tallies.key_for(filters)
    if key is not None and tallies_built(tx, timezone):
        return _tallied(tx, key, days)
    return {**_case_counts(tx, filters, bounds), **_mediation_counts(tx, filters, bounds)}


def _tallied(tx, key, days):
    names = ", ".join(COUNTS)
    match = "key = %s AND day >= %s AND day < %s"
    return tx.execute(f"""
        SELECT {", ".join(f"coalesce(sum({n}), 0)::bigint AS {n}" for n in COUNTS)}
        FROM (SELECT {names} FROM tallies WHERE {match} UNION ALL SELECT {names} FROM tally_deltas WHERE {match}) t""",
        [key, *days, key, *days]).fetchone()


def _case_counts(tx, filters, period):
    where, params = _where(filters, period)
    counted = ", ".join(f"count(*) FILTER (WHERE {e}) AS {n}" for n, e in FLAGS.items())
    return tx.execute(f"SELECT {counted} FROM cases WHERE registered_at IS NOT NULL AND {where}", params).fetchone()


def _mediation_counts(tx, filters, period):
    """Mediation files concluded in the period, on cases the filters select; `body` is the body
    that mediated, not the one that has the case now."""
    where, params = _where({k: v for k, v in filters.items() if k != "body"}, alias="c.")
    counted = ", ".join(f"count(*) FILTER (WHERE m->>'outcome' = '{o}') AS {n}"
                        for n, o in tallies.MEDIATION_COUNTS.items())
    return tx.execute(f"""
        SELECT {counted} FROM cases c CROSS JOIN LATERAL jsonb_array_elements(c.mediations) m
        WHERE (m->>'at')::timestamptz >= %s AND (m->>'at')::timestamptz < %s
          AND (%s::text IS NULL OR m->>'body' = %s) AND {where}""",
        [*period, filters.get("body"), filters.get("body"), *params]).fetchone()


# --- tallies ----------------------------------------------------------------------------------

COMPACT_BATCH = 50_000


def add_to_tallies(tx, changes):
    """Append what a row's change adds ({key: {count: n}}): no lock shared with other cases."""
    if changes:
        rows = [(*key, *(counts.get(n, 0) for n in COUNTS)) for key, counts in sorted(changes.items())]
        tx.execute(_ADD_DELTAS, [list(column) for column in zip(*rows)])


# One array per column, unnested: the same statement text whatever the number of rows, so
# psycopg parses it once (a VALUES list per row made a new, long statement every time).
_DELTA_TYPES = {"day": "date", **{d: "text" for d in tallies.DIMENSIONS}, **{n: "integer" for n in COUNTS}}
_ADD_DELTAS = (f"INSERT INTO tally_deltas ({', '.join(_DELTA_TYPES)}) SELECT * FROM unnest("
               + ", ".join(f"%s::{t}[]" for t in _DELTA_TYPES.values()) + ")")


def compact_tallies(tx, limit=COMPACT_BATCH):
    """Move up to `limit` deltas into the tallies; how many (none when another replica is at it)."""
    if not tx.execute("SELECT pg_try_advisory_xact_lock(hashtext('reporting.tallies')) AS mine").fetchone()["mine"]:
        return 0
    keys = ", ".join(["day", *tallies.DIMENSIONS])
    return tx.execute(f"""
        WITH moved AS (DELETE FROM tally_deltas WHERE seq IN (SELECT seq FROM tally_deltas ORDER BY seq LIMIT %s)
                       RETURNING *),
             added AS (INSERT INTO tallies ({keys}, {", ".join(COUNTS)})
                       SELECT {keys}, {", ".join(f"sum({n})" for n in COUNTS)} FROM moved GROUP BY {keys}
                       ON CONFLICT (key, day) DO UPDATE
                       SET {", ".join(f"{n} = tallies.{n} + excluded.{n}" for n in COUNTS)})
        SELECT count(*) AS n FROM moved""", (limit,)).fetchone()["n"]


def tally_version(timezone):
    """What the tallies were counted by: the groupings, the counts and the county's time zone.
    Tallies of another version (older code, a county moved to another zone) are built again."""
    what = json.dumps([tallies.GROUPINGS, FLAGS, tallies.MEDIATION_COUNTS, timezone])
    return hashlib.sha1(what.encode()).hexdigest()[:16]


def tallies_built(tx, timezone):
    return tx.execute("SELECT version FROM tally_state").fetchone()["version"] == tally_version(timezone)


def build_tallies(tx, timezone, now, unless_built=False):
    """The tallies from the case rows, afresh (or, `unless_built`, only if not yet built for this
    version). One build or compaction at a time (advisory lock). Folds that run meanwhile wait
    on the tables' lock and then append their changes, which were made against the rows counted
    here; readers go on reading the tallies as they were (DELETE: TRUNCATE would block them)."""
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('reporting.tallies'))")
    if unless_built and tallies_built(tx, timezone):
        return
    tx.execute("LOCK TABLE tally_deltas, tallies IN EXCLUSIVE MODE")
    tx.execute("DELETE FROM tallies")
    tx.execute("DELETE FROM tally_deltas")
    dims = ", ".join(f"CASE WHEN GROUPING({d}) = 1 THEN '*' ELSE coalesce({d}, '') END" for d in tallies.DIMENSIONS)
    sets = ", ".join("(" + ", ".join(["day", *g]) + ")" for g in tallies.DAILY)
    sets += ", (" + ", ".join(["month", *tallies.MONTHLY]) + ")"
    no_flags = ", ".join(f"0 AS {n}" for n in FLAGS)
    tx.execute(f"""
        INSERT INTO tallies (day, {", ".join(tallies.DIMENSIONS)}, {", ".join(COUNTS)})
        SELECT coalesce(day, month), {dims}, {", ".join(f"sum({n})" for n in COUNTS)}
        FROM (SELECT *, date_trunc('month', day)::date AS month FROM (
              SELECT (registered_at AT TIME ZONE %(tz)s)::date AS day, {", ".join(tallies.DIMENSIONS[:-1])}, body,
                     {", ".join(f"coalesce(({e}), false)::int AS {n}" for n, e in FLAGS.items())},
                     0 AS agreements, 0 AS failures
              FROM cases WHERE registered_at IS NOT NULL
              UNION ALL
              SELECT ((m->>'at')::timestamptz AT TIME ZONE %(tz)s)::date, {", ".join(tallies.DIMENSIONS[:-1])},
                     m->>'body', {no_flags},
                     (m->>'outcome' = 'agreement')::int, (m->>'outcome' = 'no_agreement')::int
              FROM cases CROSS JOIN LATERAL jsonb_array_elements(mediations) m) counted) by_month
        GROUP BY GROUPING SETS ({sets})""", {"tz": timezone})
    tx.execute("UPDATE tally_state SET built_at = %s, version = %s", (now, tally_version(timezone)))


def backlog(tx, filters, now):
    """Open cases (not ended) by age in days since registration."""
    where, params = _where(filters)
    return tx.execute(f"""
        SELECT CASE WHEN age <= 30 THEN '0-30' WHEN age <= 60 THEN '31-60' WHEN age <= 90 THEN '61-90'
                    WHEN age <= 180 THEN '91-180' WHEN age <= 365 THEN '181-365' ELSE '365+' END AS bucket,
               count(*) AS n, max(age) AS oldest_days
        FROM (SELECT extract(day FROM %s - registered_at)::int AS age FROM cases
              WHERE open AND registered_at IS NOT NULL AND {where}) open
        GROUP BY 1""", [now, *params]).fetchall()


def overdue(tx, filters, now, limit=500):
    where, params = _where(filters)
    return tx.execute(f"""
        SELECT number, township, village, category, body, risk, status, registered_at, deadlines, next_due_at
        FROM cases WHERE next_due_at < %s AND {where}
        ORDER BY next_due_at LIMIT %s""", [now, *params, limit]).fetchall()


LEDGER_COLUMNS = ("number, registered_at, channel, township, village, category, channel_class, subject, status,"
                  " body, risk, repeat_count, resolved_at, outcome, rating, closed_at")


def ledger_size(tx, filters, period):
    where, params = _where(filters, period)
    return tx.execute(f"SELECT count(*) AS n FROM cases WHERE registered_at IS NOT NULL AND {where}",
                      params).fetchone()["n"]


def ledger_page(tx, filters, period, after=None, limit=5000):
    """The ledger's rows in registration order, `limit` at a time after the (registered_at,
    number, case_id) of the last row of the page before (the case id breaks ties)."""
    where, params = _where(filters, period)
    if after is not None:
        where += " AND (registered_at, number, case_id) > (%s, %s, %s)"
        params += list(after)
    return tx.execute(f"""
        SELECT case_id, {LEDGER_COLUMNS} FROM cases WHERE registered_at IS NOT NULL AND {where}
        ORDER BY registered_at, number, case_id LIMIT %s""", [*params, limit]).fetchall()


# --- hotspots ---------------------------------------------------------------------------------

def monthly_by_place_and_category(tx, months, tz, township=None):
    """(place, level, category, month) counts of cases registered in the county months given
    (their first days): each village's, and each township's as a whole (its villages' and its
    own) — from the tallies' monthly grouping when built, else from the rows."""
    if tallies_built(tx, tz):
        monthly = "village <> '*' AND township <> '*' AND category <> '*' AND channel = '*' AND body = '*'" \
                  " AND day = ANY(%s) AND (%s::text IS NULL OR township = %s)"
        counted = f"""SELECT township, village, category, to_char(day, 'YYYY-MM') AS month, registered
                      FROM tallies WHERE {monthly}
                      UNION ALL SELECT township, village, category, to_char(day, 'YYYY-MM'), registered
                      FROM tally_deltas WHERE {monthly}"""
        params = [list(months), township, township] * 2
    else:
        counted = """SELECT * FROM (
                         SELECT coalesce(township, '') AS township, coalesce(village, '') AS village,
                                coalesce(category, '') AS category,
                                to_char(registered_at AT TIME ZONE %s, 'YYYY-MM') AS month, 1 AS registered
                         FROM cases WHERE registered_at >= %s::timestamp AT TIME ZONE %s
                           AND registered_at < %s::timestamp AT TIME ZONE %s
                           AND (%s::text IS NULL OR township = %s)) c
                     WHERE month = ANY(%s)"""
        params = [tz, min(months), tz, max(months) + timedelta(days=31), tz, township, township,
                  [m.strftime("%Y-%m") for m in months]]
    return tx.execute(f"{_BY_PLACE.format(what='category,', counted=counted)} AND sum(registered) <> 0",
                      params).fetchall()


# Each village's counts, and each township's as a whole (GROUPING(village) = 1); cases with no
# village count only in their township's.
_BY_PLACE = """
    SELECT CASE WHEN GROUPING(village) = 1 THEN township ELSE village END AS place,
           CASE WHEN GROUPING(village) = 1 THEN 'township' ELSE 'village' END AS level,
           {what} month, sum(registered)::int AS n
    FROM ({counted}) t
    GROUP BY GROUPING SETS ((township, village, {what} month), (township, {what} month))
    HAVING (GROUPING(village) = 1 OR village <> '') AND township <> ''"""


def monthly_events_by_place(tx, event_type, start, end, tz, township=None):
    """(place, level, month) counts of one event type about cases (repeat petitions, cluster
    joins), per village and per township as a whole, months in county time."""
    counted = """SELECT coalesce(c.township, '') AS township, coalesce(c.village, '') AS village,
                        to_char(e.time AT TIME ZONE %s, 'YYYY-MM') AS month, 1 AS registered
                 FROM events e JOIN cases c ON c.case_id = e.case_id
                 WHERE e.type = %s AND e.time >= %s AND e.time < %s AND (%s::text IS NULL OR c.township = %s)"""
    return tx.execute(_BY_PLACE.format(what="", counted=counted),
                      (tz, event_type, start, end, township, township)).fetchall()


def open_alarms(tx, now, township=None):
    """How many open cases are overdue now, and how many are red (in a township, or all)."""
    return tx.execute("""
        SELECT (SELECT count(*) FROM cases WHERE next_due_at < %s AND (%s::text IS NULL OR township = %s))
                   AS overdue_cases,
               (SELECT count(*) FROM cases WHERE open AND risk = 'red'
                AND (%s::text IS NULL OR township = %s)) AS open_red_cases""",
        (now, township, township, township, township)).fetchone()


# --- gauges -----------------------------------------------------------------------------------

def open_by_township_and_risk(tx):
    return tx.execute("SELECT township, risk, count(*) AS n FROM cases WHERE open"
                      " AND township IS NOT NULL GROUP BY 1, 2").fetchall()


def overdue_by_township(tx, now):
    return tx.execute("SELECT township, count(*) AS n FROM cases WHERE next_due_at < %s"
                      " AND township IS NOT NULL GROUP BY 1", (now,)).fetchall()


def last_event_received(tx):
    found = tx.execute("SELECT received_at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return found and found["received_at"]


def oldest_open_registration(tx):
    return tx.execute("SELECT min(registered_at) AS at FROM cases WHERE open").fetchone()["at"]
