"""Per-service schema migrations: ordered SQL files, each applied once and recorded.

The backbone's own tables (outbox, inbox) come first, then the service's files. An advisory
lock makes concurrent starts of several replicas apply each file exactly once.

A file runs in one transaction, unless its first line is ONE_BY_ONE: then each statement runs
on its own, as `CREATE INDEX CONCURRENTLY` must — an index built on a large table of a running
county without blocking its writes. Such a file must be safe to run again after a failure
(`IF NOT EXISTS`, `IF EXISTS`): an index whose concurrent build failed is left invalid by
PostgreSQL, so it is dropped before the statement that builds it runs again."""
import logging
import re
import time
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

BACKBONE_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x46514D47  # "FQMG"
ONE_BY_ONE = "-- migrate: each statement on its own"
_CONCURRENT_INDEX = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I)


def migration_files(service_dir):
    """(recorded name, path) pairs in the order they are applied; `service_dir` None means the
    backbone's tables only."""
    files = [("backbone/" + p.name, p) for p in sorted(BACKBONE_DIR.glob("*.sql"))]
    if service_dir is not None:
        service_migrations = Path(service_dir) / "migrations"
        if not service_migrations.is_dir():  # a broken install must not look like "nothing to do"
            raise FileNotFoundError(f"no migrations folder at {service_migrations}")
        files += [(p.name, p) for p in sorted(service_migrations.glob("*.sql"))]
    return files


def apply(database_url, service_dir):
    """Apply pending migrations; returns the names applied now."""
    applied_now = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        _take_lock(conn)
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            for name, path in migration_files(service_dir):
                if name in done:
                    continue
                sql = path.read_text()
                if sql.startswith(ONE_BY_ONE):
                    for statement in statements(sql):
                        _drop_if_invalid(conn, statement)
                        conn.execute(statement)
                    _refuse_invalid_indexes(conn, name)
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                else:
                    with conn.transaction():
                        conn.execute(sql)
                        conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied_now.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def _take_lock(conn):
    """The migrations' advisory lock, asked for again and again rather than waited for: a
    waiting statement would hold a snapshot, and a concurrent index build waits for every older
    snapshot to end — while the holder of the lock waits for the build (a deadlock)."""
    asked = time.monotonic()
    told = asked
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()[0]:
        if time.monotonic() - told > 10:  # a long index build elsewhere: say why this start waits
            holder = conn.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                  " AND objid = %s", (_LOCK_KEY,)).fetchone()
            log.warning("waiting %.0f s for the migrations lock, held by backend %s",
                        time.monotonic() - asked, holder and holder[0])
            told = time.monotonic()
        time.sleep(0.1)


def statements(sql):
    """The statements of a file run one by one: split where a line ends with ";", comment lines
    dropped (no statement there may hold a ";" at a line's end inside a string)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in re.split(r";[ \t]*$", "\n".join(lines), flags=re.M) if s.strip()]


def _refuse_invalid_indexes(conn, name):
    """A file run one by one is recorded only if it left no invalid index behind (a build that
    failed in a way its statements did not foresee): otherwise the next start tries again."""
    invalid = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND n.nspname = current_schema()")]
    if invalid:
        raise RuntimeError(f"{name} left invalid indexes {', '.join(invalid)}: drop them and start again")


def _drop_if_invalid(conn, statement):
    """A concurrent index build that failed leaves an invalid index of that name, which `IF NOT
    EXISTS` would take for done: drop it so that the build runs again."""
    found = _CONCURRENT_INDEX.search(statement)
    if found and conn.execute("SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(%s) AND NOT indisvalid",
                              (found[1],)).fetchone():
        conn.execute(f'DROP INDEX CONCURRENTLY "{found[1]}"')
