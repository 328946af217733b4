"""Transactional outbox: `emit` writes an event in the caller's transaction; the `Relay`
publishes what was committed, persistent, confirmed and `mandatory`, then marks it sent.

Rows are claimed with FOR UPDATE SKIP LOCKED, so several replicas relay side by side without
publishing a row twice at once. A crash between publish and mark republishes it: delivery is
at least once and consumers are idempotent (inbox)."""
import json
import logging
import threading
import time

from amqp import Message
from amqp.exceptions import ChannelError, MessageNacked
from kombu import Connection

from fengqiao import metrics
from fengqiao.events import exchange_of
from fengqiao.messaging import CONFIRM_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60
BACKLOG_EVERY_SECONDS = 5  # the backlog query is for alerts; no need to run it per event
PUBLISHED_KEEP_DAYS = 7  # published rows stay this long (to look into), then are pruned
PRUNE_EVERY_SECONDS = 60
PRUNE_BATCH = 1000
PRUNE_BATCHES = 20  # at most this many batches a minute: an outbox that grew for long shrinks over hours


def emit(conn, service, event):
    conn.execute(
        "INSERT INTO outbox (event_id, exchange, routing_key, envelope) VALUES (%s, %s, %s, %s)",
        (event["id"], exchange_of(service), event["type"], json.dumps(event, ensure_ascii=False)),
    )


def _message(row):
    return Message(json.dumps(row["envelope"], ensure_ascii=False).encode(), content_type="application/json",
                   content_encoding="utf-8", message_id=row["event_id"], delivery_mode=2, application_headers={})


def _reason(exc):
    if isinstance(exc, ChannelError):
        return "unroutable" if exc.reply_code == 312 else "refused"
    return type(exc).__name__


class Relay:
    def __init__(self, service, pool, amqp_uri, batch_size=200):
        self.service = service
        self.pool = pool
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self._connection = None
        self._declared = set()
        self._published_on_channel = 0
        self.wakeup = threading.Event()
        self._observed_at = self._pruned_at = float("-inf")

    def publish_pending(self):
        """Publish one batch of due rows; returns how many were published."""
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT seq, event_id, exchange, routing_key, envelope, attempts FROM outbox"
                " WHERE published_at IS NULL AND next_attempt_at <= now()"
                " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.batch_size,),
            ).fetchall()
            if not rows:
                return 0
            refusals = self._publish_confirmed(rows)
            published = [row["seq"] for row in rows if row["seq"] not in refusals]
            conn.execute("UPDATE outbox SET published_at = now() WHERE seq = ANY(%s)", (published,))
            for row in rows:
                if row["seq"] in refusals:  # unroutable (mandatory), nacked, unanswered: it waits and backs off
                    self._postpone(conn, row, refusals[row["seq"]], _reason(refusals[row["seq"]]))
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(published))
        return len(published)

    def _publish_confirmed(self, rows):
        """Publish the rows, then wait once for the broker's confirms of them all (the broker
        can write a batch to its queues' logs at once, not a message at a time). Returns
        {seq: why} of the rows not confirmed as delivered to a queue."""
        channel, answers, returned = self._channel(), {}, {}
        waiting = {}  # delivery tag -> row: a channel in confirm mode numbers its publishes 1, 2, …

        def answer(tag, multiple, refusal=None):
            for settled in [t for t in waiting if t <= tag] if multiple else [tag]:
                row = waiting.pop(settled, None)
                if row is not None:  # a returned message is confirmed after its return
                    answers[row["seq"]] = refusal or returned.pop(row["event_id"], None)

        callbacks = {"basic_ack": answer, "basic_nack": lambda tag, multiple: answer(tag, multiple, MessageNacked()),
                     "basic_return": lambda exc, exchange, key, message: returned.update(
                         {message.properties.get("message_id"): exc})}
        for name, callback in callbacks.items():
            channel.events[name].add(callback)
        failure = None
        try:
            for row in rows:
                self._declare(channel, row["exchange"])
                channel.basic_publish(_message(row), exchange=row["exchange"], routing_key=row["routing_key"],
                                      mandatory=True, timeout=CONFIRM_TIMEOUT_SECONDS)  # a broker that stops reading
                self._published_on_channel += 1
                waiting[self._published_on_channel] = row
            deadline = time.monotonic() + CONFIRM_TIMEOUT_SECONDS
            while waiting:
                self._connection.drain_events(timeout=max(deadline - time.monotonic(), 0.001))
        except Exception as exc:  # no answer in time, or the connection lost: the rows unanswered wait,
            failure = exc  # and a fresh connection follows, so no late confirm is taken for another message
            self.close()
        finally:
            for name, callback in callbacks.items():
                channel.events[name].discard(callback)
        return {row["seq"]: why for row in rows if (why := answers.get(row["seq"], failure)) is not None}

    def run(self, stopping, idle_seconds):
        """Relay until `stopping` is set; sleep when idle unless woken by a new commit."""
        while not stopping.is_set():
            try:
                busy = self.publish_pending()
                if not busy:
                    self._observe_backlog()
                    self._prune_if_due()
            except Exception as exc:  # broker or database down: keep the rows, try again
                metrics.OUTBOX_FAILURES.labels(self.service, "unavailable").inc()
                log.warning("outbox relay of %s: %s", self.service, exc)
                self.close()
                busy = 0
                self._observe_backlog_if_possible()
                stopping.wait(min(idle_seconds * 4, 5))
            if not busy:
                self.wakeup.wait(idle_seconds)
                self.wakeup.clear()

    def close(self):
        if self._connection is not None:
            try:
                self._connection.release()
            finally:
                self._connection, self._declared = None, set()

    def _channel(self):
        """The relay's channel, in confirm mode (confirms are waited for per batch, not by py-amqp
        per message)."""
        if self._connection is None:
            self._connection = Connection(self.amqp_uri, connect_timeout=5)
            self._connection.ensure_connection(max_retries=1)
            self._connection.default_channel.confirm_select()
            self._published_on_channel = 0
        return self._connection.default_channel

    def _declare(self, channel, exchange):
        if exchange not in self._declared:
            channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
            self._declared.add(exchange)

    def _postpone(self, conn, row, exc, reason):
        metrics.OUTBOX_FAILURES.labels(self.service, reason).inc()
        delay = min(2 ** row["attempts"], MAX_BACKOFF_SECONDS)
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = now() + make_interval(secs => %s) WHERE seq = %s",
            (str(exc)[:500], delay, row["seq"]),
        )

    def _prune_if_due(self):
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            self.prune_published()

    def prune_published(self, keep_days=PUBLISHED_KEEP_DAYS, batches=PRUNE_BATCHES):
        """Delete published rows older than `keep_days`, oldest first, a batch at a time (each read
        by the primary key from the oldest published row on: never the whole table); how many.
        A row still pending stays, however old."""
        pruned = 0
        for _ in range(batches):
            with self.pool.connection() as conn:
                deleted = conn.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE published_at IS NOT NULL"
                    " ORDER BY seq LIMIT %s) AND created_at < now() - make_interval(days => %s)",
                    (PRUNE_BATCH, keep_days)).rowcount
            pruned += deleted
            if deleted < PRUNE_BATCH:
                return pruned
        return pruned

    def _observe_backlog_if_possible(self):
        """During a broker outage the backlog is what alerts need most; the database may be down too."""
        try:
            self._observe_backlog()
        except Exception:
            pass

    def _observe_backlog(self):
        """Refresh the backlog gauges, at most once per BACKLOG_EVERY_SECONDS."""
        if time.monotonic() - self._observed_at < BACKLOG_EVERY_SECONDS:
            return
        self._observed_at = time.monotonic()
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age"
                " FROM outbox WHERE published_at IS NULL"
            ).fetchone()
        metrics.OUTBOX_PENDING.labels(self.service).set(row["n"])
        metrics.OUTBOX_OLDEST_SECONDS.labels(self.service).set(row["age"] or 0)
