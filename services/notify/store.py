"""Notify's SQL: every message and its delivery status."""


def record_sent(tx, notice):
    tx.execute(
        "INSERT INTO notifications (id, case_id, number, kind, channel, recipient, text, status, sent_at)"
        " VALUES (%(id)s, %(case_id)s, %(number)s, %(kind)s, %(channel)s, %(recipient)s, %(text)s,"
        " 'sent', now())",
        notice,
    )


def notifications_of_case(db, number):
    return db.query("SELECT * FROM notifications WHERE number = %s ORDER BY created_at", (number,))
