"""The senders of webhook subscriptions' deliveries. They run beside the service, never on a
consumer's path: each subscription with something due gets a green thread of its own that sends
its deliveries in order, so a subscriber that is slow or down holds up only itself — neither
the consumers nor the other subscribers."""
import json
import logging
from datetime import datetime, timedelta, timezone

from nameko.extensions import DependencyProvider

from fengqiao import metrics
from services.notify import channels, store

log = logging.getLogger(__name__)
LEASE_SECONDS = 60  # longer than a send can take (its connect and read timeouts)
ROUND = 50  # deliveries one thread sends before the next tick looks again


def _now():
    return datetime.now(timezone.utc)


class WebhookSenders(DependencyProvider):
    def setup(self):
        self.busy = set()  # subscriptions a thread of this process is sending for

    def get_dependency(self, worker_ctx):
        return self

    def send_due(self, db, retry_at):
        """A sender for each subscription with a delivery due and none sending here yet.
        `retry_at(attempts, now)` says when to try again after a failure, or None: give up."""
        with db.transaction() as tx:
            due = store.subscribers_due(tx, _now(), self.busy)
        for subscription_id in due:
            self.busy.add(subscription_id)
            self.container.spawn_managed_thread(lambda s=subscription_id: self._send_round(db, s, retry_at),
                                                identifier=f"webhook-sender-{subscription_id}")

    def _send_round(self, db, subscription_id, retry_at):
        try:
            for _ in range(ROUND):
                if send_next(db, subscription_id, retry_at) != "delivered":
                    return  # nothing due, or the subscriber is failing: the backoff decides when next
        except Exception:  # a database fault: the lease runs out and the delivery is taken up again
            log.exception("sending to webhook subscription %s stopped", subscription_id)
        finally:
            self.busy.discard(subscription_id)


def send_next(db, subscription_id, retry_at):
    """Send the subscription's first due delivery; its outcome (delivered, retried, failed), or
    None when nothing is due. The delivery is leased, not locked, while it is sent: no database
    connection waits on a subscriber, and if this process dies the lease runs out and another
    sends it (the receiver drops the resend by its X-Fengqiao-Delivery id)."""
    now = _now()
    with db.transaction() as tx:
        delivery = store.claim_delivery(tx, subscription_id, now, now + timedelta(seconds=LEASE_SECONDS))
    if delivery is None:
        return None
    attempts, again, error = delivery["attempts"] + 1, None, None
    try:
        body = json.dumps(delivery["payload"], ensure_ascii=False).encode()
        channels.send_webhook(delivery["url"], delivery["secret"], body, delivery["id"])
        outcome = "delivered"
    except channels.Permanent as exc:
        outcome, error = "failed", str(exc)
    except channels.Transient as exc:
        again, error = retry_at(attempts, _now()), str(exc)
        outcome = "retried" if again else "failed"
    with db.transaction() as tx:
        status = "pending" if outcome == "retried" else outcome
        store.record_delivery(tx, delivery["id"], status, attempts, again, error)
    metrics.WEBHOOK_DELIVERIES.labels(outcome).inc()
    return outcome
