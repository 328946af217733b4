"""RabbitMQ topology and the event-handler entrypoint.

Each service publishes on its own topic exchange (`<service>.events`, routing key = event
type). Each handler consumes from its own quorum queue `<service>.<method>`, with a delivery
limit and a dead-letter queue `<service>.<method>.dead` behind it, so a message that keeps
failing is parked with its error instead of being dropped (nameko's default) or redelivered
forever (ENGINEERING pitfall 2)."""
import json
import logging
import threading
import traceback
from datetime import datetime, timezone

import eventlet
from amqp.exceptions import ChannelError
from amqp.exceptions import ConnectionError as AMQPConnectionError
from kombu import Connection, Exchange, Queue, binding
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from functools import partial

from nameko.messaging import Consumer, QueueConsumer

from fengqiao import metrics
from fengqiao.catalog import contract_errors, load_contract
from fengqiao.events import InvalidEvent, exchange_of, validate

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = Exchange("fengqiao.dead-letter", type="direct", durable=True)
ERROR_HEADER = "x-fengqiao-error"
QUEUE_HEADER = "x-fengqiao-queue"
# The broker's own limit is a backstop above ours, for a message that kills the process
# before the handler can park it (then it is dead-lettered without an error text).
BROKER_LIMIT_MARGIN = 2
# How long a publish waits for the broker's confirm before the connection is given up.
CONFIRM_TIMEOUT_SECONDS = 10


def event_exchange(service):
    return Exchange(exchange_of(service), type="topic", durable=True)


def consumer_queue(name, bindings, delivery_limit):
    """The quorum queue of one handler; `bindings` are (source service, routing key) pairs."""
    return Queue(
        name,
        bindings=[binding(event_exchange(source), routing_key=key) for source, key in bindings],
        durable=True,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit + BROKER_LIMIT_MARGIN,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-dead-letter-routing-key": name,
            # at-least-once dead-lettering needs reject-publish overflow (RabbitMQ 3.10+).
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def dead_letter_queue(name):
    return Queue(
        f"{name}.dead", exchange=DEAD_LETTER_EXCHANGE, routing_key=name, durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


def declare(connection, name, bindings, delivery_limit):
    """Declare a handler's queue, its bindings and its dead-letter queue."""
    channel = connection.default_channel
    consumer_queue(name, bindings, delivery_limit)(channel).declare()
    dead_letter_queue(name)(channel).declare()


def connect(amqp_uri, **kwargs):
    return Connection(amqp_uri, transport_options={"confirm_publish": True}, **kwargs)


def waiting(amqp_uri, queue):
    """How many messages are ready in a queue (a passive declare: it never makes one)."""
    with connect(amqp_uri) as conn:
        return queue_depth(conn, queue)


def queue_depth(connection, queue):
    return connection.default_channel.queue_declare(queue, passive=True).message_count


class ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer lets kombu decode bodies, and kombu acks (drops) what it cannot
    decode. Here each handler decodes for itself and parks an undecodable message instead; and
    it stops in a tenth of a second rather than two."""

    # How often the consuming loop wakes when no message comes, to cancel consumers and stop:
    # kombu's default second made every service (and test) take two seconds to stop.
    WAKE_SECONDS = 0.1

    def consume(self, *args, **kwargs):
        return super().consume(*args, safety_interval=self.WAKE_SECONDS, **kwargs)

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_message = partial(self._decode_and_handle, provider)
        return consumers

    def ack_message(self, message):
        self._settle(message, message.ack)

    def requeue_message(self, message):
        self._settle(message, message.requeue)

    def _settle(self, message, settle):
        """nameko lets a socket error from an ack or requeue on a connection the broker just
        dropped kill the whole service. The broker gives back every unsettled message of a lost
        connection anyway (redelivered, then deduplicated by the inbox), so it is only logged."""
        if not message.channel.connection:
            return
        try:
            settle()
        except (OSError, AMQPConnectionError) as exc:
            log.warning("connection lost before a message was settled; the broker redelivers it: %s", exc)

    def _decode_and_handle(self, provider, message):
        try:
            body = message.decode()
        except Exception as exc:
            self.container.spawn_managed_thread(partial(provider.park, message, exc, 1))
            return
        self.handle_message(provider, body, message)


class EventHandler(Consumer):
    """`@event_handler(("intake", "case.registered"), ...)`: one quorum queue bound to each
    (source service, event type) pair; the method receives the validated CloudEvent dict."""

    queue_consumer = ParkingQueueConsumer()

    def __init__(self, *bindings, **kwargs):
        self.bindings = bindings
        self._publish_lock = threading.Lock()
        self._connection = None
        super().__init__(queue=None, requeue_on_error=True, **kwargs)

    @property
    def queue_name(self):
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self):
        load_contract()
        self.delivery_limit = self.container.config["DELIVERY_LIMIT"]
        self.queue = consumer_queue(self.queue_name, self.bindings, self.delivery_limit)
        for outcome in ("ok", "retried", "dead_lettered"):  # series exist from the start, at 0
            metrics.EVENTS_HANDLED.labels(self.queue_name, outcome)
        with connect(self.container.config["AMQP_URI"]) as conn:
            declare(conn, self.queue_name, self.bindings, self.delivery_limit)
        super().setup()

    def stop(self):
        super().stop()
        self._drop_connection()

    def _drop_connection(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # already broken: nothing more to free
                pass

    def handle_message(self, body, message):
        try:
            validate(body)
            if errors := contract_errors(body):  # retrying cannot mend it: parked at once
                raise InvalidEvent("; ".join(errors)[:1000])
        except InvalidEvent as exc:
            self.park(message, exc, attempt=1)
            return
        super().handle_message(body, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            metrics.EVENTS_HANDLED.labels(self.queue_name, "ok").inc()
            self.queue_consumer.ack_message(message)
            return
        attempt = int(message.headers.get("x-delivery-count") or 0) + 1
        if attempt >= self.delivery_limit:
            self.park(message, exc_info[1], attempt)
        else:
            metrics.EVENTS_HANDLED.labels(self.queue_name, "retried").inc()
            # Back off before requeueing (quorum queues redeliver at once), in a thread of its
            # own so that failing messages do not hold the service's workers.
            self.container.spawn_managed_thread(partial(self._requeue_after, message, min(0.1 * 2 ** attempt, 3.0)))

    def _requeue_after(self, message, seconds):
        eventlet.sleep(seconds)
        self.queue_consumer.requeue_message(message)

    def park(self, message, error, attempt):
        """Move a message to the dead-letter queue with its error, then ack it. If that publish
        fails, requeue: the message is never dropped."""
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        log.error("parking message on %s after %d attempt(s): %s", self.queue_name, attempt, text)
        headers = dict(message.headers or {})
        headers.update({
            ERROR_HEADER: text[:2000],
            QUEUE_HEADER: self.queue_name,
            "x-fengqiao-attempts": attempt,
            "x-fengqiao-failed-at": datetime.now(timezone.utc).isoformat(),
        })
        try:
            with self._publish_lock:
                if self._connection is None:
                    self._connection = connect(self.container.config["AMQP_URI"])
                self._connection.Producer().publish(
                    message.body, exchange=DEAD_LETTER_EXCHANGE, routing_key=self.queue_name,
                    headers=headers, content_type=message.content_type,
                    content_encoding=message.content_encoding, delivery_mode=2, mandatory=True,
                    message_id=message.properties.get("message_id"), timeout=CONFIRM_TIMEOUT_SECONDS,
                )
        except Exception:
            log.exception("could not park message on %s; requeueing it", self.queue_name)
            self._drop_connection()
            self.queue_consumer.requeue_message(message)
            return
        metrics.EVENTS_HANDLED.labels(self.queue_name, "dead_lettered").inc()
        self.queue_consumer.ack_message(message)


event_handler = EventHandler.decorator


def handlers_of(service_cls):
    """(queue name, bindings) of every event handler of a service class, without starting it."""
    found = []
    for attr in dir(service_cls):
        for ext in getattr(getattr(service_cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(ext, EventHandler):
                found.append((f"{service_cls.name}.{attr}", ext.bindings))
    return sorted(found)


def declare_service(connection, service_cls, delivery_limit):
    """Declare every queue a service consumes from, so events published before its first start
    wait for it (ENGINEERING pitfall 3)."""
    for name, bindings in handlers_of(service_cls):
        declare(connection, name, bindings, delivery_limit)


# Queues of handlers that were renamed or removed: deleted at setup once empty, so that no queue
# bound to live events outlives its consumer and fills up.
RETIRED_QUEUES = ("notify.tell_assigned_body",)


def retire_queues(connection, names=RETIRED_QUEUES):
    """Delete retired queues and their dead-letter queues when empty; [names kept, with messages]."""
    kept = []
    for name in names:
        for queue in (name, f"{name}.dead"):
            channel = connection.channel()  # a refusal closes its channel: one each
            try:
                channel.queue_delete(queue, if_empty=True)
                channel.close()
            except ChannelError:  # not empty: kept for a replay
                kept.append(queue)
    return kept


def dead_letters(connection, queue_name):
    """Browse a handler's dead-letter queue without consuming it."""
    queue = dead_letter_queue(queue_name)(connection.channel())
    queue.declare()
    messages = []
    try:
        while (message := queue.get(no_ack=False)) is not None:
            messages.append(message)
        return [_describe(m) for m in messages]
    finally:
        for m in messages:
            m.requeue()
        queue.channel.close()


def replay(connection, queue_name, message_id=None):
    """Send parked messages back to the handler's queue (only that handler sees them again).
    Only what was parked when the replay began is replayed: a message that fails again is
    parked anew and waits for the next replay. Returns how many were replayed."""
    channel = connection.channel()
    queue = dead_letter_queue(queue_name)(channel)
    producer = connection.Producer(channel=channel)
    replayed, skipped = 0, []
    try:
        _, parked_now, _ = queue.queue_declare(passive=True)
        for _ in range(parked_now):
            message = queue.get(no_ack=False)
            if message is None:
                break
            if message_id and _describe(message)["id"] != message_id:
                skipped.append(message)
                continue
            producer.publish(
                message.body, exchange="", routing_key=queue_name, headers=_original_headers(message),
                content_type=message.content_type, content_encoding=message.content_encoding,
                message_id=message.properties.get("message_id"), delivery_mode=2, mandatory=True,
            )
            message.ack()
            replayed += 1
            if message_id:
                break
    finally:
        for m in skipped:
            m.requeue()
        channel.close()
    return replayed


def _original_headers(message):
    return {k: v for k, v in (message.headers or {}).items()
            if not k.startswith(("x-fengqiao-", "x-first-death", "x-last-death"))
            and k not in ("x-death", "x-delivery-count")}


def _describe(message):
    headers = message.headers or {}
    try:
        body = json.loads(message.body)
        event_id, event_type = body.get("id"), body.get("type")
    except (ValueError, AttributeError):
        event_id, event_type = None, None
    deaths = headers.get("x-death") or [{}]
    return {
        "id": event_id or message.properties.get("message_id"),
        "type": event_type,
        "error": headers.get(ERROR_HEADER) or f"dead-lettered by the broker: {deaths[0].get('reason')}",
        "attempts": headers.get("x-fengqiao-attempts") or deaths[0].get("count"),
        "failed_at": headers.get("x-fengqiao-failed-at"),
    }
