"""Per-service schema migrations: ordered SQL files, each applied once and recorded.

The backbone's own tables (outbox, inbox) come first, then the service's files. An advisory
lock makes concurrent starts of several replicas apply each file exactly once."""
from pathlib import Path

import psycopg

BACKBONE_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x46514D47  # "FQMG"


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
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            for name, path in migration_files(service_dir):
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied_now.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
