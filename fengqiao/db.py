"""PostgreSQL: a connection pool, transactions, and creating a service's database."""
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


def open_pool(database_url, min_size=1, max_size=10):
    pool = ConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": False},
        open=False,
    )
    pool.open(wait=True, timeout=15)
    return pool


@contextmanager
def transaction(pool):
    """A connection inside one transaction: committed on success, rolled back on error."""
    with pool.connection() as conn:
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError:
            if conn.broken:
                # The server restarted or failed over: every idle connection is dead too. Drop them
                # now, or each would cost a message one of its few delivery attempts, one by one.
                pool.check()
            raise


def ensure_database(admin_url, name):
    """Create the database `name` if it does not exist yet."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url, name):
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def ping(pool, timeout=2.0):
    with pool.connection(timeout=timeout) as conn:
        conn.execute("SELECT 1")
