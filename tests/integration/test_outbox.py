import json
import os
import subprocess
import threading
import time

import eventlet
import pytest
from kombu import Queue

from fengqiao import db, messaging, outbox
from fengqiao.events import new_event
from tests.integration.conftest import pool_of


def _bound_queue(broker, unique, key="#"):
    # durable: one test restarts the broker
    queue = Queue(f"{unique}.probe", exchange=messaging.event_exchange(unique), routing_key=key, durable=True)
    queue(broker.default_channel).declare()
    return queue


@pytest.fixture(autouse=True)
def _remove_probe_queue(amqp_uri, unique):
    yield
    with messaging.connect(amqp_uri) as conn:
        conn.default_channel.queue_delete(f"{unique}.probe")
        conn.default_channel.exchange_delete(f"{unique}.events")


def _drain(broker, queue):
    bodies = []
    bound = queue(broker.default_channel)
    while (message := bound.get(no_ack=True)) is not None:
        bodies.append(json.loads(message.body))
    return bodies


def _emit(pool, service, type="thing.happened", fail=False):
    event = new_event(service, type, {"n": 1})
    with db.transaction(pool) as conn:
        outbox.emit(conn, service, event)
        if fail:
            raise RuntimeError("the change failed after the event was written")
    return event


def _pending(pool):
    with pool.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").fetchone()["n"]


def test_relay_publishes_committed_events_and_never_rolled_back_ones(fresh_database, broker, unique, amqp_uri):
    queue = _bound_queue(broker, unique)
    with pool_of(fresh_database()) as pool:
        with pytest.raises(RuntimeError):
            _emit(pool, unique, fail=True)
        committed = _emit(pool, unique)
        relay = outbox.Relay(unique, pool, amqp_uri)
        try:
            assert relay.publish_pending() == 1
            assert relay.publish_pending() == 0
        finally:
            relay.close()
        published = _drain(broker, queue)
    assert [e["id"] for e in published] == [committed["id"]]
    assert published[0]["specversion"] == "1.0" and published[0]["correlationid"] == committed["id"]


def _rabbitmqctl(*args):
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["rabbitmqctl", "-q", *args], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)


def test_event_committed_while_the_broker_is_down_is_published_when_it_returns(
        fresh_database, broker, unique, amqp_uri):
    _bound_queue(broker, unique)
    with pool_of(fresh_database()) as pool:
        relay = outbox.Relay(unique, pool, amqp_uri)
        stopping = threading.Event()
        runner = eventlet.spawn(relay.run, stopping, 0.1)
        try:
            _rabbitmqctl("stop_app")
            try:
                event = _emit(pool, unique)
                relay.wakeup.set()
                eventlet.sleep(1.0)
                assert _pending(pool) == 1, "published although the broker was down?"
            finally:
                _rabbitmqctl("start_app")
                _rabbitmqctl("await_startup")
            deadline = time.monotonic() + 30
            while _pending(pool) and time.monotonic() < deadline:
                eventlet.sleep(0.2)
            assert _pending(pool) == 0, "the relay did not recover after the broker came back"
        finally:
            stopping.set()
            relay.wakeup.set()
            runner.wait()
            relay.close()
    broker.close()
    with messaging.connect(amqp_uri) as fresh:
        queue = Queue(f"{unique}.probe", exchange=messaging.event_exchange(unique), routing_key="#")
        assert [e["id"] for e in _drain(fresh, queue)] == [event["id"]]


def test_unroutable_event_stays_in_the_outbox_until_a_queue_is_bound(fresh_database, broker, unique, amqp_uri):
    with pool_of(fresh_database()) as pool:
        relay = outbox.Relay(unique, pool, amqp_uri)
        try:
            event = _emit(pool, unique)
            assert relay.publish_pending() == 0  # mandatory: nobody would receive it
            with pool.connection() as conn:
                row = conn.execute("SELECT attempts, last_error FROM outbox").fetchone()
            assert row["attempts"] == 1 and "NO_ROUTE" in row["last_error"]
            queue = _bound_queue(broker, unique)
            with pool.connection() as conn:
                conn.execute("UPDATE outbox SET next_attempt_at = now()")
                conn.commit()
            assert relay.publish_pending() == 1
        finally:
            relay.close()
        assert [e["id"] for e in _drain(broker, queue)] == [event["id"]]


def test_two_relays_side_by_side_publish_each_event_once(fresh_database, broker, unique, amqp_uri):
    queue = _bound_queue(broker, unique)
    url = fresh_database()
    with pool_of(url) as pool_a, pool_of(url) as pool_b:
        emitted = {_emit(pool_a, unique)["id"] for _ in range(300)}
        relays = [outbox.Relay(unique, pool_a, amqp_uri, batch_size=20),
                  outbox.Relay(unique, pool_b, amqp_uri, batch_size=20)]

        def drain_outbox(relay):
            total = 0
            while n := relay.publish_pending():
                total += n
            return total

        try:
            pile = eventlet.GreenPile()
            for relay in relays:
                pile.spawn(drain_outbox, relay)
            counts = list(pile)
        finally:
            for relay in relays:
                relay.close()
    ids = [e["id"] for e in _drain(broker, queue)]
    assert sum(counts) == 300 and all(counts), f"both relays should share the work: {counts}"
    assert len(ids) == 300 and set(ids) == emitted


def test_unroutable_rows_stay_pending_around_a_routable_one(fresh_database, broker, unique, amqp_uri):
    # A returned message is followed by its confirm; were that confirm taken for the next row's,
    # an unroutable row would be marked published and lost. (py-amqp 5.4 reads the owed confirm
    # itself; the relay also reconnects after any failure, so this holds either way.)
    queue = _bound_queue(broker, unique, key="routable")
    with pool_of(fresh_database()) as pool:
        lost_1 = _emit(pool, unique, type="nobody.listens")
        kept = _emit(pool, unique, type="routable")
        lost_2 = _emit(pool, unique, type="nobody.listens")
        relay = outbox.Relay(unique, pool, amqp_uri)
        try:
            for _ in range(3):
                relay.publish_pending()
        finally:
            relay.close()
        with pool.connection() as conn:
            rows = {r["event_id"]: r for r in conn.execute("SELECT event_id, published_at, attempts FROM outbox")}
    assert rows[kept["id"]]["published_at"] is not None
    for lost in (lost_1, lost_2):
        assert rows[lost["id"]]["published_at"] is None and rows[lost["id"]]["attempts"] == 1
    assert [e["id"] for e in _drain(broker, queue)] == [kept["id"]]


def test_published_rows_are_pruned_after_a_week_pending_ones_never(fresh_database, broker, unique, amqp_uri):
    _bound_queue(broker, unique)
    with pool_of(fresh_database()) as pool:
        old_sent, old_stuck, recent = (_emit(pool, unique) for _ in range(3))
        relay = outbox.Relay(unique, pool, amqp_uri)
        try:
            with pool.connection() as conn:  # the stuck one waits in backoff, as when unroutable for days
                conn.execute("UPDATE outbox SET next_attempt_at = now() + interval '1 hour' WHERE event_id = %s",
                             (old_stuck["id"],))
            assert relay.publish_pending() == 2
            with pool.connection() as conn:
                conn.execute("UPDATE outbox SET created_at = now() - interval '8 days' WHERE event_id = ANY(%s)",
                             ([old_sent["id"], old_stuck["id"]],))
            assert relay.prune_published() == 1
            assert relay.prune_published() == 0
        finally:
            relay.close()
        with pool.connection() as conn:
            left = {r["event_id"]: r["published_at"] for r in conn.execute("SELECT event_id, published_at FROM outbox")}
    assert set(left) == {old_stuck["id"], recent["id"]} and left[old_stuck["id"]] is None
