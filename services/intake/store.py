"""Intake's SQL. Its tables live in intake's own database (migrations/)."""
from psycopg.types.json import Jsonb


def next_sequence(tx, township, year):
    """The next case number of a township and year. The counter row is locked until the
    registering transaction ends, so numbers have no gap and no duplicate."""
    return tx.execute(
        "INSERT INTO case_number_counters (township, year, last) VALUES (%s, %s, 1)"
        " ON CONFLICT (township, year) DO UPDATE SET last = case_number_counters.last + 1"
        " RETURNING last",
        (township, year),
    ).fetchone()["last"]


def insert_case(tx, case, sealed_petitioners):
    tx.execute(
        "INSERT INTO cases (id, number, channel, location, township, place, category, channel_class,"
        " subject, description, received_at, registered_at, anonymous, collective, details,"
        " hotline_order_id, correlationid, idempotency_key, proposed_channel_class, channel_class_reason,"
        " guided_to)"
        " VALUES (%(id)s, %(number)s, %(channel)s, %(location)s, %(township)s, %(place)s, %(category)s,"
        " %(channel_class)s, %(subject)s, %(description)s, %(received_at)s, %(registered_at)s,"
        " %(anonymous)s, %(collective)s, %(details_json)s, %(hotline_order_id)s, %(correlationid)s,"
        " %(idempotency_key)s, %(proposed_channel_class)s, %(channel_class_reason)s, %(guided_json)s)",
        {**case, "details_json": Jsonb(case["details"]),
         "guided_json": Jsonb(case["guided_to"]) if case["guided_to"] else None,
         "hotline_order_id": case["details"].get("order_id") if case["channel"] == "hotline" else None},
    )
    for position, p in enumerate(sealed_petitioners):
        tx.execute(
            "INSERT INTO petitioners (case_id, position, name, id_number_sealed, id_number_hash,"
            " id_number_last4, phone_sealed, phone_hash, phone_last4, address_sealed)"
            " VALUES (%(case_id)s, %(position)s, %(name)s, %(id_number_sealed)s, %(id_number_hash)s,"
            " %(id_number_last4)s, %(phone_sealed)s, %(phone_hash)s, %(phone_last4)s, %(address_sealed)s)",
            {**p, "case_id": case["id"], "position": position},
        )


def case_of_request(tx, idempotency_key):
    """The case an earlier request with this key registered or was linked to."""
    return tx.execute(
        "SELECT c.id, c.number, c.repeat_count, c.collective FROM cases c"
        " WHERE c.idempotency_key = %s OR c.id = (SELECT case_id FROM repeat_petitions WHERE idempotency_key = %s)",
        (idempotency_key, idempotency_key)).fetchone()


def case_of_hotline_order(tx, order_id):
    return tx.execute("SELECT id, number, repeat_count, collective FROM cases WHERE hotline_order_id = %s",
                      (order_id,)).fetchone()


def earlier_case_of(tx, person_hashes, category, place, since, lock=True):
    """The earliest case since `since` on the same matter (category and place) with one of
    these people among its petitioners; locked when a repeat is about to be counted on it."""
    return tx.execute(
        "SELECT c.id, c.number, c.repeat_count, c.correlationid, c.channel_class, c.location, c.subject,"
        " c.registered_at FROM cases c"
        " WHERE c.category = %s AND c.place = %s AND c.registered_at >= %s AND EXISTS ("
        "   SELECT 1 FROM petitioners p WHERE p.case_id = c.id"
        "   AND (p.id_number_hash = ANY(%s) OR p.phone_hash = ANY(%s)))"
        " ORDER BY c.registered_at LIMIT 1" + (" FOR UPDATE" if lock else ""),
        (category, place, since, person_hashes, person_hashes),
    ).fetchone()


def record_repeat(tx, case_id, repeat):
    tx.execute(
        "INSERT INTO repeat_petitions (id, case_id, channel, subject, received_at, registered_at, idempotency_key)"
        " VALUES (%(id)s, %(case_id)s, %(channel)s, %(subject)s, %(received_at)s, %(registered_at)s,"
        " %(idempotency_key)s)",
        {**repeat, "case_id": case_id},
    )
    return tx.execute("UPDATE cases SET repeat_count = repeat_count + 1 WHERE id = %s RETURNING repeat_count",
                      (case_id,)).fetchone()["repeat_count"]


def recent_cases_of_matter(tx, category, place, since, except_id):
    """Cases of the same category and place since `since`: candidates for a problem cluster."""
    return tx.execute(
        "SELECT id, number, cluster_id, subject || ' ' || description AS text FROM cases"
        " WHERE category = %s AND place = %s AND registered_at >= %s AND id <> %s",
        (category, place, since, except_id)).fetchall()


def join_cluster(tx, case, other):
    """Put `case` in `other`'s cluster, making one if `other` has none. Returns (id, size)."""
    # re-read under lock: two alike cases registered at once must not found two clusters
    cluster_id = tx.execute("SELECT cluster_id FROM cases WHERE id = %s FOR UPDATE",
                            (other["id"],)).fetchone()["cluster_id"]
    if cluster_id is None:
        cluster_id = tx.execute(
            "INSERT INTO problem_clusters (id, category, place, township) VALUES (gen_random_uuid(), %s, %s, %s)"
            " RETURNING id", (case["category"], case["place"], case["township"])).fetchone()["id"]
        tx.execute("UPDATE cases SET cluster_id = %s WHERE id = %s", (cluster_id, other["id"]))
    tx.execute("UPDATE cases SET cluster_id = %s WHERE id = %s", (cluster_id, case["id"]))
    size = tx.execute("SELECT count(*) AS n FROM cases WHERE cluster_id = %s", (cluster_id,)).fetchone()["n"]
    return cluster_id, size


def clusters(db, scope, township=None, category=None):
    """Clusters with their cases the caller may see (`scope`: access.sql_filter over `c`),
    largest first."""
    where, params = scope
    rows = db.query(
        "SELECT k.id, k.category, k.place, k.township, k.created_at,"
        " json_agg(json_build_object('number', c.number, 'subject', c.subject,"
        "   'registered_at', c.registered_at) ORDER BY c.registered_at) AS cases"
        " FROM problem_clusters k JOIN cases c ON c.cluster_id = k.id"
        " WHERE (%s::text IS NULL OR k.township = %s) AND (%s::text IS NULL OR k.category = %s)"
        f" AND {where} GROUP BY k.id ORDER BY count(*) DESC, k.created_at",
        (township, township, category, category, *params))
    return [{**r, "size": len(r["cases"])} for r in rows]


def sealed_contacts(db, number):
    """The petitioners' positions and sealed phones of a case (None: no such case)."""
    cases = db.query("SELECT id FROM cases WHERE number = %s", (number,))
    if not cases:
        return None
    return db.query("SELECT position, phone_sealed FROM petitioners WHERE case_id = %s ORDER BY position",
                    (cases[0]["id"],))


def find_case(db, number):
    rows = db.query("SELECT * FROM cases WHERE number = %s", (number,))
    if not rows:
        return None
    case = rows[0]
    case["petitioners"] = [
        {"name": p["name"], "id_number": p["id_number_last4"] and "****" + p["id_number_last4"],
         "phone": p["phone_last4"] and "****" + p["phone_last4"]}
        for p in db.query("SELECT name, id_number_last4, phone_last4 FROM petitioners"
                          " WHERE case_id = %s ORDER BY position", (case["id"],))]
    return case



# --- Open311 (open311.py): a case's status as routing last told it --------------------------------

def record_status(tx, change):
    """Keep what a routing event says of its case, unless a later event said otherwise already
    (events may arrive out of order: the event's time decides, so a redelivery changes nothing)."""
    tx.execute(
        "UPDATE cases SET"
        " status = CASE WHEN status_at IS NULL OR status_at < %(at)s THEN %(status)s ELSE status END,"
        " status_at = GREATEST(status_at, %(at)s),"
        " agency = CASE WHEN %(agency)s::text IS NOT NULL AND (agency_at IS NULL OR agency_at < %(at)s)"
        "   THEN %(agency)s ELSE agency END,"
        " agency_at = CASE WHEN %(agency)s::text IS NOT NULL THEN GREATEST(agency_at, %(at)s) ELSE agency_at END"
        " WHERE id = %(case_id)s", change)


# The status a case is in: as routing last told it; before that, guided at the window (routing
# never takes such a case) or registered.
LIFECYCLE = "COALESCE(c.status, CASE WHEN c.guided_to IS NULL THEN 'registered' ELSE 'guided' END)"


def service_requests(db, scope, ended, numbers=None, codes=None, since=None, until=None, closed=None, limit=None):
    """Cases the caller may see (`scope`: access.sql_filter over `c`), newest request first:
    by number, category, time requested (received_at), and closed (its status among `ended`) or not."""
    where, params = scope
    return db.query(
        f"SELECT c.number, c.category, c.description, c.location, c.received_at, c.registered_at, c.guided_to,"
        f" c.status_at, c.agency, {LIFECYCLE} AS lifecycle FROM cases c WHERE {where}"
        " AND (%s::text[] IS NULL OR c.number = ANY(%s)) AND (%s::text[] IS NULL OR c.category = ANY(%s))"
        " AND (%s::timestamptz IS NULL OR c.received_at >= %s) AND (%s::timestamptz IS NULL OR c.received_at <= %s)"
        f" AND (%s::boolean IS NULL OR ({LIFECYCLE} = ANY(%s)) = %s)"
        " ORDER BY c.received_at DESC, c.number LIMIT %s",
        (*params, numbers, numbers, codes, codes, since, since, until, until, closed, list(ended), closed, limit))
