import time

import eventlet
import psycopg
import pytest

from fengqiao import db


def test_pool_lets_ten_queries_wait_side_by_side_under_eventlet(fresh_database):
    # psycopg's C wait would block the hub and serialise these: 10 x 0.5 s = 5 s (pitfall 1).
    pool = db.open_pool(fresh_database(), min_size=10, max_size=10)
    try:
        def nap():
            with pool.connection() as conn:
                conn.execute("SELECT pg_sleep(0.5)")

        started = time.monotonic()
        pile = eventlet.GreenPile()
        for _ in range(10):
            pile.spawn(nap)
        list(pile)
        elapsed = time.monotonic() - started
    finally:
        pool.close()
    assert elapsed < 2.0, f"10 concurrent pg_sleep(0.5) took {elapsed:.1f}s: the pool blocks eventlet"


def test_after_the_server_cut_every_connection_only_the_transaction_that_found_out_fails(fresh_database):
    url = fresh_database()
    pool = db.open_pool(url, min_size=4, max_size=4)
    try:
        pool.wait(timeout=10)  # four idle connections, as in a service between messages
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                                (name,)).fetchone()[0]
        assert cut == 4
        with pytest.raises(psycopg.OperationalError):
            with db.transaction(pool) as conn:
                conn.execute("SELECT 1")
        for _ in range(4):  # the other dead connections were dropped, not handed out one by one
            with db.transaction(pool) as conn:
                assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1
    finally:
        pool.close()
