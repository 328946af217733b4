"""Fixtures on the real RabbitMQ and PostgreSQL: a fresh database per test, unique exchange
and queue names per test on the test vhost, and services run in-process by nameko."""
import json
import os
import time
import uuid
from contextlib import contextmanager

import pytest
from kombu import Connection
from nameko.containers import ServiceContainer

from fengqiao import config, db, messaging, migrations

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
def run_service(amqp_uri, fresh_database, isolated):
    """Start a nameko service class in this process; stopped at the end of the test (before
    its database is dropped, and before `isolated` deletes its queues: a running consumer
    whose queue is deleted declares it again, and the queue would outlive the test)."""
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


# --- a service under test and what it emitted --------------------------------------------------

@pytest.fixture
def isolated(unique, amqp_uri):
    """`isolated(ServiceClass)`: the service under a name of its own, so its queues never meet
    another test's events; its queues are deleted afterwards."""
    made = []

    def make(service_cls):
        cls = type(service_cls.__name__, (service_cls,), {"name": f"{service_cls.name}{unique}"})
        made.append(cls)
        return cls

    yield make
    with messaging.connect(amqp_uri) as conn:
        for cls in made:
            for queue, _ in messaging.handlers_of(cls):
                conn.default_channel.queue_delete(queue)
                conn.default_channel.queue_delete(f"{queue}.dead")


def publish(amqp_uri, source, event):
    """Publish an event as `source` would: on its topic exchange, persistent."""
    with messaging.connect(amqp_uri) as conn:
        exchange = messaging.event_exchange(source)
        conn.Producer().publish(json.dumps(event).encode(), exchange=exchange, routing_key=event["type"],
                                content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                                declare=[exchange])


def outbox_events(url):
    """Every event a service's outbox holds, in order."""
    with pool_of(url) as pool, pool.connection() as conn:
        return [r["envelope"] for r in conn.execute("SELECT envelope FROM outbox ORDER BY seq")]


def eventually(check, timeout=10):
    """Poll `check` until it returns something true; that is returned."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        time.sleep(0.1)
    return result
