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


def test_replicas_starting_together_apply_each_file_once(fresh_database, tmp_path):
    service = _service_dir(tmp_path, {
        "001_create.sql": "CREATE TABLE thing (x int); SELECT pg_sleep(0.3);",
        "002_fill.sql": "INSERT INTO thing VALUES (1);",
    })
    url = fresh_database()
    pile = eventlet.GreenPile()
    for _ in range(3):
        pile.spawn(migrations.apply, url, service)
    results = sorted(list(pile), key=len)
    assert results == [[], [], ["001_create.sql", "002_fill.sql"]]
    assert _scalar(url, "SELECT count(*) FROM thing") == 1


def test_a_failing_file_is_not_recorded_and_leaves_nothing_behind(fresh_database, tmp_path):
    service = _service_dir(tmp_path, {"001_bad.sql": "CREATE TABLE half (x int); SELECT * FROM missing;"})
    url = fresh_database()
    with pytest.raises(psycopg.errors.UndefinedTable):
        migrations.apply(url, service)
    assert _scalar(url, "SELECT count(*) FROM schema_migrations WHERE name = '001_bad.sql'") == 0
    assert _scalar(url, "SELECT to_regclass('half') IS NULL")
    _service_dir(tmp_path, {"001_bad.sql": "CREATE TABLE half (x int);"})
    assert migrations.apply(url, service) == ["001_bad.sql"]
