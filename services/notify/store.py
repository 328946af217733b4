"""Notify's SQL: every message, its delivery and the staff inbox."""
import json

from psycopg.types.json import Jsonb

_COLUMNS = ("id", "dedup_key", "case_id", "number", "kind", "channel", "recipient", "recipient_kind", "subject",
            "text", "status", "next_attempt_at", "event_id", "correlationid", "payload", "sent_at", "last_error")


def insert_new(tx, message):
    """Record a message unless one with its identity exists; the row when it is new, else None."""
    row = {**message, "payload": message.get("payload") and Jsonb(json.loads(json.dumps(message["payload"])))}
    return tx.execute(
        f"INSERT INTO notifications ({', '.join(_COLUMNS)}) VALUES ({', '.join(f'%({c})s' for c in _COLUMNS)})"
        " ON CONFLICT (dedup_key) DO NOTHING RETURNING *", {c: row.get(c) for c in _COLUMNS}).fetchone()


def claim_due(tx, now):
    """One pending message due now, locked; another dispatcher skips it (several replicas)."""
    return tx.execute(
        "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= %s"
        " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED", (now,)).fetchone()


def record(tx, message_id, status, attempts, delivered_to, next_attempt_at=None, error=None):
    return tx.execute(
        "UPDATE notifications SET status = %s, attempts = %s, delivered_to = %s, next_attempt_at = %s,"
        " last_error = %s, sent_at = CASE WHEN %s = 'sent' THEN now() ELSE sent_at END WHERE id = %s RETURNING *",
        (status, attempts, delivered_to, next_attempt_at, error, status, message_id)).fetchone()


def retry_failed(tx, message_id, now):
    """A failed message back in the queue, its attempts counted anew."""
    return tx.execute(
        "UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = %s"
        " WHERE id = %s AND status = 'failed' AND channel <> 'inbox' RETURNING *", (now, message_id)).fetchone()


def postpone(tx, message_id, until):
    tx.execute("UPDATE notifications SET next_attempt_at = %s WHERE id = %s", (until, message_id))


def notifications_of_case(tx, number):
    return tx.execute("SELECT * FROM notifications WHERE number = %s ORDER BY created_at, kind, recipient, channel",
                      (number,)).fetchall()


def inbox(tx, recipients, unread_only, limit=200):
    return tx.execute(
        "SELECT * FROM notifications WHERE channel = 'inbox' AND recipient = ANY(%s)"
        " AND (NOT %s OR read_at IS NULL) ORDER BY created_at DESC LIMIT %s",
        (list(recipients), unread_only, limit)).fetchall()


def mark_read(tx, message_id, recipients):
    return tx.execute(
        "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = %s AND channel = 'inbox'"
        " AND recipient = ANY(%s) RETURNING *", (message_id, list(recipients))).fetchone()


def claim_digest(tx, township, month):
    """True for the one transaction that makes this township's digest of this month."""
    return tx.execute("INSERT INTO digests (township, month) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                      (township, month)).fetchone() is not None
