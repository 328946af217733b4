"""Transactional outbox: `emit` writes an event in the caller's transaction; the `Relay`
publishes what was committed, persistent, confirmed and `mandatory`, then marks it sent.

Rows are claimed with FOR UPDATE SKIP LOCKED, so several replicas relay side by side without
publishing a row twice at once. A crash between publish and mark republishes it: delivery is
at least once and consumers are idempotent (inbox)."""
import json
import logging
import threading
import time

from amqp.exceptions import ChannelError

from fengqiao import metrics
from fengqiao.events import exchange_of
from fengqiao.messaging import CONFIRM_TIMEOUT_SECONDS, connect

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60
BACKLOG_EVERY_SECONDS = 5  # the backlog query is for alerts; no need to run it per event


def emit(conn, service, event):
    conn.execute(
        "INSERT INTO outbox (event_id, exchange, routing_key, envelope) VALUES (%s, %s, %s, %s)",
        (event["id"], exchange_of(service), event["type"], json.dumps(event, ensure_ascii=False)),
    )


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
        self.wakeup = threading.Event()
        self._observed_at = float("-inf")

    def publish_pending(self):
        """Publish one batch of due rows; returns how many were published."""
        published = 0
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT seq, event_id, exchange, routing_key, envelope, attempts FROM outbox"
                " WHERE published_at IS NULL AND next_attempt_at <= now()"
                " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.batch_size,),
            ).fetchall()
            if not rows:
                return 0
            producer = self._producer()
            for row in rows:
                try:
                    self._publish(producer, row)
                except Exception as exc:
                    # Unroutable (mandatory), nacked, timed out or disconnected: this row waits
                    # and backs off, the rows confirmed before it stay marked (the commit below),
                    # and a fresh connection follows, so no confirm the broker still owes for
                    # this message is ever matched to a later one.
                    self._postpone(conn, row, exc, _reason(exc))
                    self.close()
                    break
                conn.execute("UPDATE outbox SET published_at = now() WHERE seq = %s", (row["seq"],))
                published += 1
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(published)
        return published

    def run(self, stopping, idle_seconds):
        """Relay until `stopping` is set; sleep when idle unless woken by a new commit."""
        while not stopping.is_set():
            try:
                busy = self.publish_pending()
                if not busy:
                    self._observe_backlog()
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

    def _producer(self):
        if self._connection is None:
            self._connection = connect(self.amqp_uri, connect_timeout=5)
            self._connection.ensure_connection(max_retries=1)
        return self._connection.Producer()

    def _publish(self, producer, row):
        if row["exchange"] not in self._declared:
            producer.channel.exchange_declare(row["exchange"], "topic", durable=True, auto_delete=False)
            self._declared.add(row["exchange"])
        producer.publish(
            json.dumps(row["envelope"], ensure_ascii=False).encode(),
            exchange=row["exchange"], routing_key=row["routing_key"],
            content_type="application/json", content_encoding="utf-8",
            message_id=row["event_id"], delivery_mode=2, mandatory=True, retry=False,
            timeout=CONFIRM_TIMEOUT_SECONDS,
        )

    def _postpone(self, conn, row, exc, reason):
        metrics.OUTBOX_FAILURES.labels(self.service, reason).inc()
        delay = min(2 ** row["attempts"], MAX_BACKOFF_SECONDS)
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = now() + make_interval(secs => %s) WHERE seq = %s",
            (str(exc)[:500], delay, row["seq"]),
        )

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
