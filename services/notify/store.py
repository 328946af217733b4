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


# --- webhook subscriptions ----------------------------------------------------------------------

_SUBSCRIPTION = ("SELECT s.id, s.url, s.event_types, s.description, s.created_by, s.created_at,"
                 " count(*) FILTER (WHERE d.status = 'pending') AS pending,"
                 " count(*) FILTER (WHERE d.status = 'delivered') AS delivered,"
                 " count(*) FILTER (WHERE d.status = 'failed') AS failed,"
                 " max(d.delivered_at) AS last_delivered_at"
                 " FROM webhook_subscriptions s LEFT JOIN webhook_deliveries d ON d.subscription_id = s.id")


def add_subscription(tx, url, event_types, secret, description, created_by):
    made = tx.execute(
        "INSERT INTO webhook_subscriptions (url, event_types, secret, description, created_by)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id", (url, event_types, secret, description, created_by)).fetchone()
    return subscription(tx, made["id"])


def subscription(tx, subscription_id):
    """A subscription with its deliveries counted (never its secret), or None."""
    return tx.execute(f"{_SUBSCRIPTION} WHERE s.id = %s GROUP BY s.id", (subscription_id,)).fetchone()


def subscriptions(tx, created_by=None):
    """Every subscription, or those one integrator registered; oldest first."""
    return tx.execute(f"{_SUBSCRIPTION} WHERE %(by)s::text IS NULL OR s.created_by = %(by)s"
                      " GROUP BY s.id ORDER BY s.created_at", {"by": created_by}).fetchall()


def remove_subscription(tx, subscription_id):
    """The subscription and its deliveries, pending ones included, gone."""
    tx.execute("DELETE FROM webhook_subscriptions WHERE id = %s", (subscription_id,))


def add_deliveries(tx, event):
    """One delivery of `event` to each subscription naming its type, its prefix or everything;
    an event that comes again finds its deliveries made."""
    tx.execute(
        "INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, payload)"
        " SELECT id, %(id)s, %(type)s, %(payload)s FROM webhook_subscriptions"
        " WHERE event_types && ARRAY[%(type)s, split_part(%(type)s, '.', 1) || '.*', '*']"
        " ON CONFLICT (subscription_id, event_id) DO NOTHING",
        {"id": event["id"], "type": event["type"], "payload": Jsonb(event)})


def subscribers_due(tx, busy):
    """The subscriptions with a delivery due (the database's clock), but for those a sender
    here is busy with: one probe of the due index per subscription, however long a backlog."""
    return [row["id"] for row in tx.execute(
        "SELECT id FROM webhook_subscriptions s WHERE NOT id = ANY(%s::uuid[]) AND EXISTS (SELECT 1 FROM"
        " webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= now())",
        ([str(b) for b in busy],)).fetchall()]


def claim_delivery(tx, subscription_id, lease_seconds):
    """A subscription's first due delivery, with its address and secret, leased for
    `lease_seconds` by the database's clock (one clock for every replica): another sender skips
    it meanwhile, and takes it up again should this one die while sending."""
    return tx.execute(
        "UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => %s)"
        " FROM webhook_subscriptions s"
        " WHERE d.id = (SELECT id FROM webhook_deliveries WHERE subscription_id = %s AND status = 'pending'"
        "   AND next_attempt_at <= now() ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " AND s.id = d.subscription_id RETURNING d.*, s.url, s.secret",
        (lease_seconds, subscription_id)).fetchone()


def record_delivery(tx, delivery, status, attempts, next_attempt_at=None, error=None):
    """The outcome of a send, if the delivery is still under that send's lease; True when recorded."""
    return tx.execute(
        "UPDATE webhook_deliveries SET status = %s, attempts = %s, next_attempt_at = coalesce(%s, next_attempt_at),"
        " last_error = %s, delivered_at = CASE WHEN %s = 'delivered' THEN now() END"
        " WHERE id = %s AND status = 'pending' AND next_attempt_at = %s",
        (status, attempts, next_attempt_at, error, status, delivery["id"], delivery["next_attempt_at"])).rowcount == 1


def prune_deliveries(tx, keep_days, batch=1000):
    """Delivered rows older than `keep_days` (each holds a whole event); how many."""
    return tx.execute(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'delivered'"
        " AND delivered_at < now() - make_interval(days => %s) ORDER BY delivered_at LIMIT %s)",
        (keep_days, batch)).rowcount


_DELIVERY = "id, event_id, event_type, status, attempts, next_attempt_at, last_error, created_at, delivered_at"


def deliveries(tx, subscription_id, status, limit):
    """A subscription's deliveries, newest first."""
    return tx.execute(f"SELECT {_DELIVERY} FROM webhook_deliveries"
                      " WHERE subscription_id = %s AND (%s::text IS NULL OR status = %s) ORDER BY seq DESC LIMIT %s",
                      (subscription_id, status, status, limit)).fetchall()


def redeliver(tx, subscription_id, delivery_id, now):
    """A failed delivery back in the queue, its attempts counted anew."""
    return tx.execute(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = %s"
        f" WHERE id = %s AND subscription_id = %s AND status = 'failed' RETURNING {_DELIVERY}",
        (now, delivery_id, subscription_id)).fetchone()
