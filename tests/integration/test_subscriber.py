"""The integrators' subscriber example (scripts/subscribe.py) on the real broker: its own
durable queue, bound to the types it chose, gets those events and no others, and keeps what
arrives while it is away."""
from kombu import Connection

from fengqiao.events import new_event
from scripts.subscribe import follow, subscription
from tests.integration.conftest import publish

CASE = {"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "number": "QS-2026-000001", "township": "QS"}


def test_a_subscriber_gets_the_types_it_chose_even_those_sent_while_it_was_away(amqp_uri, unique):
    queue = f"integrator.{unique}"
    with Connection(amqp_uri) as conn:  # subscribed once …
        subscription(queue, ["case.closed", "mediation.#"])(conn.default_channel).declare()
    try:
        publish(amqp_uri, "routing", new_event("routing", "case.closed", {**CASE, "status": "closed"}))  # … then away
        publish(amqp_uri, "routing", new_event("routing", "case.signed", {**CASE, "status": "signed"}))
        publish(amqp_uri, "mediation", new_event("mediation", "mediation.opened", CASE))
        got = []
        assert follow(amqp_uri, queue, ["case.closed", "mediation.#"], got.append, limit=2, timeout=5) == 2
        assert sorted(e["type"] for e in got) == ["case.closed", "mediation.opened"]  # not case.signed
        assert follow(amqp_uri, queue, ["case.closed"], got.append, timeout=1) == 0  # each one acknowledged once
    finally:
        with Connection(amqp_uri) as conn:
            conn.default_channel.queue_delete(queue)
