"""Follow Fengqiao's events from a system of your own (SPEC 2.1), with nothing but kombu: a
durable queue of yours, bound to the event types you choose on the services' topic exchanges,
each event printed as one JSON line as it comes.

    python -m scripts.subscribe --queue county-office.cases case.registered case.closed
    python -m scripts.subscribe --queue audit-feed 'case.#' 'mediation.#'

Patterns are AMQP topic keys (`case.*`, `#`). The queue is yours: it outlives this script (run
it again and it goes on where it stopped), and what waits in it never slows the services. An
event is acknowledged once printed. FENGQIAO_AMQP_URI names the broker (as for the services).
"""
import argparse
import json
import os
import sys

from kombu import Connection, Exchange, Queue, binding

EMITTERS = ("intake", "routing", "mediation", "notify", "reporting")  # each publishes on <name>.events


def subscription(queue_name, patterns):
    """Your queue, bound to each pattern on every emitter's exchange (quorum: it survives a
    broker node's loss, as the services' own queues do)."""
    return Queue(queue_name, durable=True, queue_arguments={"x-queue-type": "quorum"},
                 bindings=[binding(Exchange(f"{emitter}.events", type="topic", durable=True), routing_key=pattern)
                           for emitter in EMITTERS for pattern in patterns])


def follow(amqp_uri, queue_name, patterns, handle, limit=None, timeout=None):
    """Hand each event (the CloudEvents envelope, parsed) to `handle` until `limit` events, or
    until `timeout` seconds pass with none."""
    seen = 0
    with Connection(amqp_uri) as conn:
        queue = subscription(queue_name, patterns)

        def on_message(event, message):
            nonlocal seen
            handle(event)
            message.ack()
            seen += 1

        with conn.Consumer(queue, accept=["json"], callbacks=[on_message]):
            while limit is None or seen < limit:
                try:
                    conn.drain_events(timeout=timeout)
                except TimeoutError:
                    return seen
    return seen


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queue", required=True, help="your queue's name, e.g. county-office.cases")
    p.add_argument("patterns", nargs="+", help="event types or topic patterns: case.registered, 'case.#'")
    args = p.parse_args(argv)
    uri = os.environ.get("FENGQIAO_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/fengqiao")
    try:
        follow(uri, args.queue, args.patterns, lambda e: print(json.dumps(e, ensure_ascii=False), flush=True))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
