"""Routing's SQL: the cases it handles and their assignments."""


def record_assignment(tx, case, body_code, reason):
    tx.execute(
        "INSERT INTO cases (id, number, township, location, category, status, body, reason, assigned_at)"
        " VALUES (%s, %s, %s, %s, %s, 'assigned', %s, %s, now())",
        (case["case_id"], case["number"], case["township"], case["location"], case["category"],
         body_code, reason),
    )


def find_case(db, number):
    rows = db.query("SELECT * FROM cases WHERE number = %s", (number,))
    return rows[0] if rows else None
