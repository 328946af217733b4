"""The event-handler entrypoint on the real broker: idempotent, dead-letters what keeps
failing (with its error) and replays it, and never misses an event published before it ran."""
import json
import time

import eventlet
import pytest

from fengqiao import config, messaging, metrics, outbox
from fengqiao.events import new_event
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from tests.integration.conftest import pool_of

PROBE_SCHEMA = """
CREATE TABLE seen (event_id text NOT NULL);
CREATE TABLE switch (healthy boolean NOT NULL);
INSERT INTO switch VALUES (false);
"""


def probe_service(name, source, fragile=False):
    class Probe(BackboneService):
        @event_handler((source, "thing.happened"))
        def handle(self, event):
            with self.db.transaction() as tx:
                if tx.already_handled(event):
                    return
                if fragile and not tx.execute("SELECT healthy FROM switch").fetchone()["healthy"]:
                    raise RuntimeError(f"boom: cannot handle {event['id']}")
                tx.execute("INSERT INTO seen (event_id) VALUES (%s)", (event["id"],))

    Probe.name = name
    return Probe


@pytest.fixture
def probe_db(fresh_database, tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_probe.sql").write_text(PROBE_SCHEMA)
    return fresh_database(tmp_path)


@pytest.fixture(autouse=True)
def _remove_queues(amqp_uri, unique):
    yield
    with messaging.connect(amqp_uri) as conn:
        for q in (f"{unique}.handle", f"{unique}.handle.dead"):
            conn.default_channel.queue_delete(q)
        conn.default_channel.exchange_delete(f"src{unique}.events")


def publish(amqp_uri, source, envelope):
    with messaging.connect(amqp_uri) as conn:
        conn.Producer().publish(
            json.dumps(envelope).encode(), exchange=messaging.event_exchange(source),
            routing_key="thing.happened", content_type="application/json", content_encoding="utf-8",
            delivery_mode=2, mandatory=True, declare=[messaging.event_exchange(source)])


def handled(queue, outcome):
    return metrics.EVENTS_HANDLED.labels(queue, outcome)._value.get()


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        eventlet.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def seen(url):
    with pool_of(url) as pool, pool.connection() as conn:
        return [r["event_id"] for r in conn.execute("SELECT event_id FROM seen")]


def test_an_event_delivered_twice_changes_nothing_the_second_time(run_service, probe_db, amqp_uri, unique):
    source = f"src{unique}"
    run_service(probe_service(unique, source), probe_db)
    event = new_event(source, "thing.happened", {"n": 1})
    publish(amqp_uri, source, event)
    publish(amqp_uri, source, event)
    wait_for(lambda: handled(f"{unique}.handle", "ok") == 2, what="both deliveries handled")
    assert seen(probe_db) == [event["id"]]


def test_a_failing_message_is_dead_lettered_with_its_error_and_replays_once_fixed(
        run_service, probe_db, amqp_uri, unique, broker):
    source, queue = f"src{unique}", f"{unique}.handle"
    run_service(probe_service(unique, source, fragile=True), probe_db, DELIVERY_LIMIT=3)
    event = new_event(source, "thing.happened", {"n": 1})
    publish(amqp_uri, source, event)
    wait_for(lambda: handled(queue, "dead_lettered") == 1, what="the message to be parked")
    parked = messaging.dead_letters(broker, queue)
    assert len(parked) == 1
    assert parked[0]["id"] == event["id"] and parked[0]["attempts"] == 3
    assert f"RuntimeError: boom: cannot handle {event['id']}" in parked[0]["error"]
    assert handled(queue, "retried") == 2 and seen(probe_db) == []
    # listing did not consume it
    assert len(messaging.dead_letters(broker, queue)) == 1

    with pool_of(probe_db) as pool, pool.connection() as conn:
        conn.execute("UPDATE switch SET healthy = true")
        conn.commit()
    assert messaging.replay(broker, queue) == 1
    wait_for(lambda: handled(queue, "ok") == 1, what="the replayed message")
    assert seen(probe_db) == [event["id"]]
    assert messaging.dead_letters(broker, queue) == []


def test_a_message_that_is_no_event_is_parked_at_once(run_service, probe_db, amqp_uri, unique, broker):
    source, queue = f"src{unique}", f"{unique}.handle"
    run_service(probe_service(unique, source), probe_db)
    publish(amqp_uri, source, {"hello": "world"})
    wait_for(lambda: handled(queue, "dead_lettered") == 1, what="the poison message to be parked")
    [parked] = messaging.dead_letters(broker, queue)
    assert "event lacks" in parked["error"] and parked["attempts"] == 1


def test_an_event_published_before_its_consumer_ever_ran_is_consumed(
        run_service, probe_db, fresh_database, amqp_uri, unique):
    source = f"src{unique}"
    probe = probe_service(unique, source)
    with messaging.connect(amqp_uri) as conn:
        messaging.declare_service(conn, probe, config.settings("intake").delivery_limit)  # what `fengqiao.cli setup` does before any start
    with pool_of(fresh_database()) as pool:
        event = new_event(source, "thing.happened", {"n": 1})
        with pool.connection() as conn:
            outbox.emit(conn, source, event)
            conn.commit()
        relay = outbox.Relay(source, pool, amqp_uri)
        try:
            assert relay.publish_pending() == 1
        finally:
            relay.close()
    run_service(probe, probe_db)
    wait_for(lambda: seen(probe_db) == [event["id"]], what="the early event to be consumed")


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"),
    (b"plain words", "text/plain"),
])
def test_an_undecodable_message_is_parked_and_the_handler_keeps_working(
        run_service, probe_db, amqp_uri, unique, broker, body, content_type):
    source, queue = f"src{unique}", f"{unique}.handle"
    run_service(probe_service(unique, source), probe_db)
    with messaging.connect(amqp_uri) as conn:
        conn.Producer().publish(body, exchange=messaging.event_exchange(source), routing_key="thing.happened",
                                content_type=content_type, content_encoding="utf-8", delivery_mode=2)
    wait_for(lambda: handled(queue, "dead_lettered") == 1, what="the undecodable message to be parked")
    event = new_event(source, "thing.happened", {"n": 2})
    publish(amqp_uri, source, event)
    wait_for(lambda: seen(probe_db) == [event["id"]], what="the next event to be handled")


def test_replay_while_the_handler_still_fails_replays_each_message_once_and_returns(
        run_service, probe_db, amqp_uri, unique, broker):
    source, queue = f"src{unique}", f"{unique}.handle"
    run_service(probe_service(unique, source, fragile=True), probe_db, DELIVERY_LIMIT=2)
    for n in range(5):
        publish(amqp_uri, source, new_event(source, "thing.happened", {"n": n}))
    wait_for(lambda: handled(queue, "dead_lettered") == 5, what="five parked messages")
    assert messaging.replay(broker, queue) == 5  # returns although each fails again
    wait_for(lambda: handled(queue, "dead_lettered") == 10, what="the five to be parked again")
    assert len(messaging.dead_letters(broker, queue)) == 5 and seen(probe_db) == []
