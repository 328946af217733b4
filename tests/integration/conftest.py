"""Fixtures on the real RabbitMQ and PostgreSQL: a fresh database per test, unique exchange
and queue names per test on the test vhost, and services run in-process by nameko."""
import os
import uuid
from contextlib import contextmanager

import pytest
from kombu import Connection
from nameko.containers import ServiceContainer

from fengqiao import config, db, migrations

PG_URL = os.environ.get("FENGQIAO_PG_URL", "postgresql://fengqiao:fengqiao@127.0.0.1:5432")
AMQP_URI = os.environ["FENGQIAO_AMQP_URI"]


@pytest.fixture
def amqp_uri():
    return AMQP_URI


@pytest.fixture
def broker(amqp_uri):
    with Connection(amqp_uri) as conn:
        yield conn


@pytest.fixture
def unique():
    """A short unique name: test exchanges and queues never meet another test's."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def fresh_database():
    """Make a database for one test (backbone tables migrated) and drop it afterwards."""
    created = []

    def make(service_dir=None):
        name = f"fqtest_{uuid.uuid4().hex[:12]}"
        db.ensure_database(f"{PG_URL}/postgres", name)
        created.append(name)
        url = f"{PG_URL}/{name}"
        migrations.apply(url, service_dir)
        return url

    yield make
    for name in created:
        db.drop_database(f"{PG_URL}/postgres", name)


@pytest.fixture
def run_service(amqp_uri, fresh_database):
    """Start a nameko service class in this process; stopped at the end of the test (before
    its database is dropped)."""
    containers = []

    def start(service_cls, database_url, port=0, **extra):
        cfg = {
            **config.settings("intake").nameko_config(),
            "AMQP_URI": amqp_uri,
            "DATABASE_URL": database_url,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "RELAY_IDLE_SECONDS": 0.1,
            **extra,
        }
        container = ServiceContainer(service_cls, cfg)
        container.start()
        containers.append(container)
        return container

    yield start
    for c in containers:
        c.stop()


@contextmanager
def pool_of(url):
    pool = db.open_pool(url)
    try:
        yield pool
    finally:
        pool.close()


def web_port(container):
    """The port a container's web server really bound (the config asked for 0: any free one)."""
    from fengqiao.web import Route

    for ext in container.entrypoints:
        if isinstance(ext, Route):
            return ext.server._sock.getsockname()[1]
    raise LookupError("no HTTP entrypoint")
