"""The senders of webhook subscriptions' deliveries. They run beside the service, never on a
consumer's path: each subscription with something due gets a green thread of its own that sends
its deliveries in order, so a subscriber that is slow or down holds up only itself — neither
the consumers nor the other subscribers."""
import json
import logging
import time
from datetime import datetime, timezone

import eventlet
from nameko.extensions import DependencyProvider

from fengqiao import metrics
from services.notify import channels, store

log = logging.getLogger(__name__)
SEND_SECONDS = 30  # a send's whole time, however slowly a receiver trickles its answer
LEASE_SECONDS = 60  # longer than a send may take
DELIVERED_KEEP_DAYS = 7  # a delivered event is kept a week (to look into), then pruned
PRUNE_EVERY_SECONDS = 60
ROUND = 50  # deliveries one thread sends before the next tick looks again


def _now():
    return datetime.now(timezone.utc)


class WebhookSenders(DependencyProvider):
    def setup(self):
        self.busy = set()  # subscriptions a thread of this process is sending for
        self._pruned_at = float("-inf")

    def get_dependency(self, worker_ctx):
        return self

    def send_due(self, db, retry_at, check_address=None):
        """A sender for each subscription with a delivery due and none sending here yet.
        `retry_at(attempts, now)` says when to try again after a failure, or None: give up;
        `check_address(url)` may refuse where the URL points now (channels.check_public)."""
        with db.transaction() as tx:
            due = store.subscribers_due(tx, self.busy)
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                self._pruned_at = time.monotonic()
                store.prune_deliveries(tx, DELIVERED_KEEP_DAYS)
        for subscription_id in due:
            self.busy.add(subscription_id)
            self.container.spawn_managed_thread(
                lambda s=subscription_id: self._send_round(db, s, retry_at, check_address),
                identifier=f"webhook-sender-{subscription_id}")

    def _send_round(self, db, subscription_id, retry_at, check_address):
        try:
            for _ in range(ROUND):
                if send_next(db, subscription_id, retry_at, check_address) != "delivered":
                    return  # nothing due, or the subscriber is failing: the backoff decides when next
        except Exception:  # a database fault: the lease runs out and the delivery is taken up again
            log.exception("sending to webhook subscription %s stopped", subscription_id)
        finally:
            self.busy.discard(subscription_id)


def send_next(db, subscription_id, retry_at, check_address=None):
    """Send the subscription's first due delivery; its outcome (delivered, retried, failed), or
    None when nothing is due. The delivery is leased, not locked, while it is sent: no database
    connection waits on a subscriber, and if this process dies the lease runs out and another
    sends it (the receiver drops the resend by its X-Fengqiao-Delivery id). A send that outlived
    its lease records nothing: the delivery is another sender's by then."""
    with db.transaction() as tx:
        delivery = store.claim_delivery(tx, subscription_id, LEASE_SECONDS)
    if delivery is None:
        return None
    attempts, again, error = delivery["attempts"] + 1, None, None
    try:
        with eventlet.Timeout(SEND_SECONDS, channels.Transient(f"webhook: no answer within {SEND_SECONDS} s")):
            if check_address is not None:
                check_address(delivery["url"])
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
        if not store.record_delivery(tx, delivery, status, attempts, again, error):
            log.warning("webhook delivery %s outlived its lease: its outcome (%s) is not recorded",
                        delivery["id"], outcome)
    metrics.WEBHOOK_DELIVERIES.labels(outcome).inc()
    return outcome
