"""Mediation's SQL: the cases it knows and its files."""
import json

from psycopg.types.json import Jsonb

OPEN = ("open", "paused")


def _json(value):
    return Jsonb(json.loads(json.dumps(value, default=str)))


# --- cases -------------------------------------------------------------------------------------

def remember_registration(tx, case):
    """Record a registered case (or fill in the row an early assignment left)."""
    tx.execute(
        "INSERT INTO cases (id, number, township, location, category, channel_class, subject, description,"
        " petitioners, correlationid, registered)"
        " VALUES (%(case_id)s, %(number)s, %(township)s, %(location)s, %(category)s, %(channel_class)s,"
        " %(subject)s, %(description)s, %(petitioners)s, %(correlationid)s, true)"
        " ON CONFLICT (id) DO UPDATE SET location = EXCLUDED.location, category = EXCLUDED.category,"
        " channel_class = EXCLUDED.channel_class, subject = EXCLUDED.subject, description = EXCLUDED.description,"
        " petitioners = EXCLUDED.petitioners, registered = true",
        {**case, "petitioners": _json(case["petitioners"])})


def lock_case(tx, case_id, number=None, township=None, correlationid=None):
    """The case row, locked (opening files for one case queue up); created from an assignment's
    data when its registration has not arrived yet (then `number` and `township` are needed)."""
    if number is not None:
        tx.execute("INSERT INTO cases (id, number, township, correlationid) VALUES (%s, %s, %s, %s)"
                   " ON CONFLICT (id) DO NOTHING", (case_id, number, township, correlationid))
    return tx.execute("SELECT * FROM cases WHERE id = %s FOR UPDATE", (case_id,)).fetchone()


def find_case(tx, case_id):
    return tx.execute("SELECT * FROM cases WHERE id = %s", (case_id,)).fetchone()


def find_case_by_number(tx, number):
    return tx.execute("SELECT * FROM cases WHERE number = %s", (number,)).fetchone()


# --- files -------------------------------------------------------------------------------------

def next_file_number(tx, case):
    """<case number>-M<n>: the case row is locked, so n is never taken twice."""
    n = tx.execute("SELECT count(*) AS n FROM files WHERE case_id = %s", (case["id"],)).fetchone()["n"]
    return f"{case['number']}-M{n + 1}"


def insert_file(tx, file):
    tx.execute(
        "INSERT INTO files (id, number, case_id, case_number, township, body, kind, complexity, status,"
        " mediators, opened_at, record)"
        " VALUES (%(id)s, %(number)s, %(case_id)s, %(case_number)s, %(township)s, %(body)s, %(kind)s,"
        " %(complexity)s, %(status)s, %(mediators)s, %(opened_at)s, %(record)s)",
        {**file, "record": _json(file)})


def save_file(tx, file):
    outcome = (file["outcome"] or {}).get("outcome")
    tx.execute(
        "UPDATE files SET body = %s, complexity = %s, status = %s, outcome = %s, mediators = %s,"
        " concluded_at = %s, record = %s WHERE id = %s",
        (file["body"], file["complexity"], file["status"], outcome, file["mediators"], file.get("concluded_at"),
         _json(file), file["id"]))


def lock_file(tx, number):
    row = tx.execute("SELECT record FROM files WHERE number = %s FOR UPDATE", (number,)).fetchone()
    return dict(row["record"]) if row else None


def open_file_of_case(tx, case_id):
    row = tx.execute("SELECT record FROM files WHERE case_id = %s AND status = ANY(%s) FOR UPDATE",
                     (case_id, list(OPEN))).fetchone()
    return dict(row["record"]) if row else None


def find_file(tx, number):
    row = tx.execute("SELECT record FROM files WHERE number = %s", (number,)).fetchone()
    return dict(row["record"]) if row else None


def list_files(tx, within, case_number=None, body=None, mediator=None, status=None, limit=200):
    """The newest files matching, within (places, bodies): of cases at those places or mediated
    by those bodies (None: anywhere)."""
    places, bodies = within
    sql, params = ["SELECT record FROM files WHERE true"], []
    if places is not None:
        sql.append("AND (coalesce(record->>'location', township) = ANY(%s) OR body = ANY(%s))")
        params += [places, bodies]
    for clause, value in (("case_number = %s", case_number), ("body = %s", body),
                          ("%s = ANY(mediators)", mediator), ("status = %s", status)):
        if value is not None:
            sql.append(f"AND {clause}")
            params.append(value)
    sql.append("ORDER BY opened_at DESC LIMIT %s")
    return [r["record"] for r in tx.execute(" ".join(sql), (*params, limit))]


def open_load(tx, mediator_ids):
    """How many open files each mediator has now (absent: none)."""
    return {r["mediator"]: r["n"] for r in tx.execute(
        "SELECT m AS mediator, count(*) AS n FROM files, unnest(mediators) m"
        " WHERE status = ANY(%s) AND mediators && %s AND m = ANY(%s) GROUP BY m",  # &&: by the GIN index
        (list(OPEN), list(mediator_ids), list(mediator_ids)))}


def concluded_between(tx, start, end, body=None):
    """{mediator, outcome} of every file concluded in [start, end), one row per mediator."""
    return tx.execute(
        "SELECT m AS mediator, outcome FROM files, unnest(mediators) m"
        " WHERE concluded_at >= %s AND concluded_at < %s AND (%s::text IS NULL OR body = %s)",
        (start, end, body, body)).fetchall()
