"""The SQL of leader reception days (领导坐班接访): sessions and their appointments (预约).
Kept apart from store.py so registration's SQL and this one change independently."""

_COLUMNS = ("id", "township", "leader_id", "leader_name", "leader_post", "starts_at", "ends_at", "place",
            "capacity", "published_at")
_SESSION = ", ".join(_COLUMNS)
_LIVE = "cancelled_at IS NULL"


def lock_leader(tx, leader_id):
    """Publications for one leader wait for each other until commit, so two overlapping
    sessions published at the same moment cannot both pass the overlap check."""
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"reception-leader:{leader_id}",))


def overlapping_sessions(tx, leader_id, starts_at, ends_at):
    return tx.execute(
        f"SELECT {_SESSION} FROM reception_sessions"
        " WHERE leader_id = %s AND starts_at < %s AND ends_at > %s ORDER BY starts_at",
        (leader_id, ends_at, starts_at)).fetchall()


def insert_session(tx, session):
    tx.execute(
        "INSERT INTO reception_sessions (id, township, leader_id, leader_name, leader_post, starts_at,"
        " ends_at, place, capacity, published_at) VALUES (%(id)s, %(township)s, %(leader_id)s,"
        " %(leader_name)s, %(leader_post)s, %(starts_at)s, %(ends_at)s, %(place)s, %(capacity)s,"
        " %(published_at)s)", session)


def roster(db, township, since, until):
    """A township's sessions starting in [since, until), each with its live appointment count."""
    return db.query(
        f"SELECT {', '.join('s.' + c for c in _COLUMNS)},"
        f" (SELECT count(*) FROM reception_appointments a WHERE a.reception_id = s.id AND a.{_LIVE}) AS booked"
        " FROM reception_sessions s WHERE s.township = %s AND s.starts_at >= %s AND s.starts_at < %s"
        " ORDER BY s.starts_at, s.leader_name", (township, since, until))


def find_session(tx, reception_id):
    return tx.execute(f"SELECT {_SESSION} FROM reception_sessions WHERE id = %s", (reception_id,)).fetchone()


def session_for_booking(tx, reception_id):
    """The session, locked: bookings of one session run one after another, so the count of
    places taken is exact when the last place goes."""
    session = tx.execute(f"SELECT {_SESSION} FROM reception_sessions WHERE id = %s FOR UPDATE",
                         (reception_id,)).fetchone()
    if session is not None:
        session["booked"] = tx.execute(
            f"SELECT count(*) AS n FROM reception_appointments WHERE reception_id = %s AND {_LIVE}",
            (reception_id,)).fetchone()["n"]
    return session


def phone_has_booked(tx, reception_id, phone_hash):
    return tx.execute(
        f"SELECT 1 FROM reception_appointments WHERE reception_id = %s AND phone_hash = %s AND {_LIVE}",
        (reception_id, phone_hash)).fetchone() is not None


def insert_appointment(tx, appointment):
    tx.execute(
        "INSERT INTO reception_appointments (id, reception_id, name, phone_sealed, phone_hash, phone_last4,"
        " subject, booked_at) VALUES (%(id)s, %(reception_id)s, %(name)s, %(phone_sealed)s, %(phone_hash)s,"
        " %(phone_last4)s, %(subject)s, %(booked_at)s)", appointment)


def find_appointment(tx, reception_id, appointment_id):
    return tx.execute(
        "SELECT id, reception_id, name, phone_last4, subject, booked_at, cancelled_at"
        " FROM reception_appointments WHERE id = %s AND reception_id = %s FOR UPDATE",
        (appointment_id, reception_id)).fetchone()


def cancel_appointment(tx, appointment_id, now):
    tx.execute(f"UPDATE reception_appointments SET cancelled_at = %s WHERE id = %s AND {_LIVE}",
               (now, appointment_id))
