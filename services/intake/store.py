"""Intake's SQL. Its tables live in intake's own database (migrations/)."""


def next_sequence(tx, township, year):
    """The next case number of a township and year. The counter row is locked until the
    registering transaction ends, so numbers have no gap and no duplicate."""
    return tx.execute(
        "INSERT INTO case_number_counters (township, year, last) VALUES (%s, %s, 1)"
        " ON CONFLICT (township, year) DO UPDATE SET last = case_number_counters.last + 1"
        " RETURNING last",
        (township, year),
    ).fetchone()["last"]


def insert_case(tx, case):
    tx.execute(
        "INSERT INTO cases (id, number, channel, location, township, category, channel_class,"
        " subject, description, received_at, registered_at)"
        " VALUES (%(id)s, %(number)s, %(channel)s, %(location)s, %(township)s, %(category)s,"
        " %(channel_class)s, %(subject)s, %(description)s, %(received_at)s, %(registered_at)s)",
        case,
    )


def find_case(db, number):
    rows = db.query("SELECT * FROM cases WHERE number = %s", (number,))
    return rows[0] if rows else None
