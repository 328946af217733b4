"""Idempotent consumption: a consumer records each event it handled in its own transaction."""


def first_delivery(conn, consumer, event):
    """True the first time `consumer` sees this event (CloudEvents: same source + id is the same
    event); False for a redelivery, which the caller then acknowledges without acting."""
    row = conn.execute(
        "INSERT INTO inbox (consumer, source, event_id) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (consumer, event["source"], event["id"]),
    ).fetchone()
    return row is not None
