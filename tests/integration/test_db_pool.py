import time

import eventlet

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
