import eventlet
import psycopg
import pytest

from fengqiao import migrations


def _service_dir(tmp_path, files):
    (tmp_path / "migrations").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / "migrations" / name).write_text(text)
    return tmp_path


def _scalar(url, query):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def test_each_file_is_applied_once_in_order_and_recorded(fresh_database, tmp_path):
    service = _service_dir(tmp_path, {
        "002_fill.sql": "INSERT INTO thing VALUES (1);",
        "001_create.sql": "CREATE TABLE thing (x int);",
    })
    url = fresh_database()
    assert migrations.apply(url, service) == ["001_create.sql", "002_fill.sql"]
    assert migrations.apply(url, service) == []
    assert _scalar(url, "SELECT count(*) FROM thing") == 1
    recorded = _scalar(url, "SELECT array_agg(name ORDER BY name) FROM schema_migrations")
    assert recorded == ["001_create.sql", "002_fill.sql", "backbone/001_outbox_inbox.sql", "backbone/002_deadlines.sql",
                        "backbone/003_audit.sql", "backbone/004_outbox_pending_by_seq.sql"]
    assert _scalar(url, "SELECT array_agg(indexname ORDER BY indexname) FROM pg_indexes WHERE tablename = 'outbox'"
                   " AND indexname LIKE 'outbox_pending%'") == ["outbox_pending_by_seq"]


def test_replicas_starting_together_apply_each_file_once(fresh_database, tmp_path):
    service = _service_dir(tmp_path, {
        "001_create.sql": "CREATE TABLE thing (x int); SELECT pg_sleep(0.3);",
        "002_fill.sql": "INSERT INTO thing VALUES (1);",
        # a concurrent build waits for older snapshots: the replicas waiting for the lock hold none
        "003_index.sql": f"{migrations.ONE_BY_ONE}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS thing_x ON thing (x);",
    })
    url = fresh_database()
    pile = eventlet.GreenPile()
    for _ in range(3):
        pile.spawn(migrations.apply, url, service)
    results = sorted(list(pile), key=len)
    assert results == [[], [], ["001_create.sql", "002_fill.sql", "003_index.sql"]]
    assert _scalar(url, "SELECT count(*) FROM thing") == 1


def test_an_index_built_concurrently_is_built_again_after_a_failed_build(fresh_database, tmp_path):
    one_by_one = f"{migrations.ONE_BY_ONE}\n-- a unique index the data does not allow yet\n" \
                 "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS thing_once ON thing (x);\n"
    service = _service_dir(tmp_path, {"001_create.sql": "CREATE TABLE thing (x int); INSERT INTO thing VALUES (1), (1);",
                                      "002_index.sql": one_by_one})
    url = fresh_database()
    with pytest.raises(psycopg.errors.UniqueViolation):
        migrations.apply(url, service)
    valid = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'thing_once'"
    assert _scalar(url, valid) is False  # what PostgreSQL leaves of a failed concurrent build
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM thing WHERE ctid = (SELECT min(ctid) FROM thing)")
    assert migrations.apply(url, service) == ["002_index.sql"]
    assert _scalar(url, valid) is True


def test_a_file_run_one_by_one_splits_at_each_statement_s_end():
    sql = f"{migrations.ONE_BY_ONE}\n-- why\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x);\n" \
          "DROP INDEX CONCURRENTLY IF EXISTS b;  \n\n"
    assert migrations.statements(sql) == ["CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x)",
                                          "DROP INDEX CONCURRENTLY IF EXISTS b"]


def test_a_failing_file_is_not_recorded_and_leaves_nothing_behind(fresh_database, tmp_path):
    service = _service_dir(tmp_path, {"001_bad.sql": "CREATE TABLE half (x int); SELECT * FROM missing;"})
    url = fresh_database()
    with pytest.raises(psycopg.errors.UndefinedTable):
        migrations.apply(url, service)
    assert _scalar(url, "SELECT count(*) FROM schema_migrations WHERE name = '001_bad.sql'") == 0
    assert _scalar(url, "SELECT to_regclass('half') IS NULL")
    _service_dir(tmp_path, {"001_bad.sql": "CREATE TABLE half (x int);"})
    assert migrations.apply(url, service) == ["001_bad.sql"]


def test_a_file_run_one_by_one_that_leaves_an_invalid_index_is_not_recorded(fresh_database, tmp_path):
    quoted = f'{migrations.ONE_BY_ONE}\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "thing_once" ON thing (x);\n'
    service = _service_dir(tmp_path, {"001_create.sql": "CREATE TABLE thing (x int); INSERT INTO thing VALUES (1), (1);",
                                      "002_index.sql": quoted})
    url = fresh_database()
    with pytest.raises(psycopg.errors.UniqueViolation):
        migrations.apply(url, service)
    # a quoted name is not recognised, so IF NOT EXISTS takes the invalid index for done: refused
    with pytest.raises(RuntimeError, match="left invalid indexes thing_once"):
        migrations.apply(url, service)
    assert _scalar(url, "SELECT count(*) FROM schema_migrations WHERE name = '002_index.sql'") == 0
