"""The raw baseline: the durable work of the Fengqiao case flow with bare kombu + psycopg (no
nameko, no eventlet, no HTTP), to show what this machine allows for it.

As in the services, every step commits its change, an inbox row (consumers) and an outbox row
in one transaction, publishes the event persistent, confirmed and `mandatory` to a topic
exchange bound to durable quorum queues, then marks the outbox row published:

  producer (intake)  counter + case + outbox        -> case.registered
  routing            inbox + assignment + outbox    -> case.assigned
  notify             inbox + notification + outbox  -> notification.sent
  reporting          inbox + event + case status, for each of the three events

What it leaves out, on purpose: HTTP, validation, the relay's polling (a step publishes right
after its commit) and the domain's work: county rules, and intake's petitioner handling
(sealing personal data, the repeat-petition lookup, the petitioners row); the services' figures
include all of that. Each consumer stage is its own process with
`workers` threads, each thread with its own database connection, consuming connection
(prefetch 1) and confirmed publishing connection."""
import json
import multiprocessing
import socket
import threading
import traceback
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import psycopg
from kombu import Connection, Consumer, Exchange, Queue, binding
from psycopg_pool import ConnectionPool

import measure

SOURCES = ("intake", "routing", "notify")
EXCHANGES = {s: Exchange(f"rawbench.{s}.events", type="topic", durable=True) for s in SOURCES}


def _quorum(name, *bindings):
    return Queue(name, bindings=[binding(EXCHANGES[s], routing_key=key) for s, key in bindings],
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


QUEUES = {
    "routing": _quorum("rawbench.routing.assign_case", ("intake", "case.registered")),
    "notify": _quorum("rawbench.notify.tell_assigned_body", ("routing", "case.assigned")),
    "reporting": _quorum("rawbench.reporting.project", *[(s, "#") for s in SOURCES]),
}

# Tables shaped like the services' migrations, with their keys and indexes, in one database.
SCHEMA = """
CREATE TABLE case_number_counters (township text, year integer, last integer NOT NULL,
                                   PRIMARY KEY (township, year));
CREATE TABLE cases (id uuid PRIMARY KEY, number text NOT NULL UNIQUE, location text NOT NULL,
                    township text NOT NULL, category text NOT NULL, subject text NOT NULL,
                    description text NOT NULL, registered_at timestamptz NOT NULL);
CREATE TABLE assignments (case_id uuid PRIMARY KEY, number text NOT NULL UNIQUE, body text NOT NULL,
                          assigned_at timestamptz NOT NULL);
CREATE TABLE notifications (id uuid PRIMARY KEY, case_id uuid NOT NULL, number text NOT NULL,
                            recipient text NOT NULL, text text NOT NULL, sent_at timestamptz NOT NULL);
CREATE INDEX notifications_by_case ON notifications (number);
CREATE TABLE outbox (seq bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, exchange text NOT NULL,
                     routing_key text NOT NULL, envelope jsonb NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz,
                     next_attempt_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX outbox_pending ON outbox (next_attempt_at, seq) WHERE published_at IS NULL;
CREATE TABLE inbox (consumer text, source text, event_id text, handled_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (consumer, source, event_id));
CREATE TABLE events (seq bigserial PRIMARY KEY, source text NOT NULL, id text NOT NULL, type text NOT NULL,
                     time timestamptz NOT NULL, case_id uuid, correlationid text NOT NULL,
                     data jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
                     UNIQUE (source, id));
CREATE INDEX events_by_case ON events (case_id, time);
CREATE TABLE report_cases (case_id uuid PRIMARY KEY, number text NOT NULL UNIQUE, status text,
                           status_at timestamptz, updated_at timestamptz NOT NULL);
CREATE INDEX report_cases_by_status ON report_cases (status);
"""

STATUS_AFTER = {"case.registered": "registered", "case.assigned": "assigned"}
COUNTY_TIME = ZoneInfo("Asia/Shanghai")


def read_model(db_url):
    return measure.ReadModel(db_url, cases_table="report_cases", events_table="events")


# --- events and the outbox ----------------------------------------------------------------

def new_event(source, type, data, cause=None):
    event_id = str(uuid.uuid4())
    return {
        "specversion": "1.0", "id": event_id, "source": f"/fengqiao/{source}", "type": type,
        "time": datetime.now(timezone.utc).isoformat(), "datacontenttype": "application/json",
        "correlationid": cause["correlationid"] if cause else event_id, "data": data,
    }


def stage_outbox(conn, source, event):
    conn.execute(
        "INSERT INTO outbox (event_id, exchange, routing_key, envelope) VALUES (%s, %s, %s, %s)",
        (event["id"], EXCHANGES[source].name, event["type"], json.dumps(event, ensure_ascii=False)))


def mark_published(conn, event):
    with conn.transaction():
        conn.execute("UPDATE outbox SET published_at = now() WHERE event_id = %s", (event["id"],))


class Publisher:
    """A connection of its own with publisher confirms, as the services' outbox relay has."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self.producer = self.connection.Producer()

    def publish(self, source, event):
        """Returns once the broker has confirmed the message."""
        self.producer.publish(
            json.dumps(event, ensure_ascii=False).encode(), exchange=EXCHANGES[source].name,
            routing_key=event["type"], content_type="application/json", content_encoding="utf-8",
            message_id=event["id"], delivery_mode=2, mandatory=True, retry=False)

    def close(self):
        self.connection.release()


# --- the steps of the chain -----------------------------------------------------------------

def register(conn, registration):
    """What POST /cases commits: a gapless number per township and year, the case, the event."""
    now = datetime.now(timezone.utc)
    township = registration["location"][:2]
    last = conn.execute(
        "INSERT INTO case_number_counters (township, year, last) VALUES (%s, %s, 1)"
        " ON CONFLICT (township, year) DO UPDATE SET last = case_number_counters.last + 1 RETURNING last",
        (township, now.astimezone(COUNTY_TIME).year)).fetchone()[0]
    case = {**registration, "id": str(uuid.uuid4()), "township": township, "registered_at": now.isoformat(),
            "number": f"{township}-{now.astimezone(COUNTY_TIME).year}-{last:06d}"}
    conn.execute(
        "INSERT INTO cases (id, number, location, township, category, subject, description, registered_at)"
        " VALUES (%(id)s, %(number)s, %(location)s, %(township)s, %(category)s, %(subject)s,"
        " %(description)s, %(registered_at)s)", case)
    data = {"case_id": case["id"], **{k: case[k] for k in
                                      ("number", "channel", "location", "township", "category", "subject")}}
    return new_event("intake", "case.registered", data)


def assign(conn, event):
    case = event["data"]
    body = f"{case['location']}-MEDIATION"
    conn.execute("INSERT INTO assignments (case_id, number, body, assigned_at) VALUES (%s, %s, %s, now())",
                 (case["case_id"], case["number"], body))
    data = {k: case[k] for k in ("case_id", "number", "township")}
    return new_event("routing", "case.assigned", {**data, "body": body}, cause=event)


def notify(conn, event):
    case = event["data"]
    notice_id = str(uuid.uuid4())
    text = f"【交办】案件 {case['number']} 已交由{case['body']}办理，请及时签收。"
    conn.execute(
        "INSERT INTO notifications (id, case_id, number, recipient, text, sent_at)"
        " VALUES (%s, %s, %s, %s, %s, now())",
        (notice_id, case["case_id"], case["number"], case["body"], text))
    data = {"notification_id": notice_id, "case_id": case["case_id"], "number": case["number"]}
    return new_event("notify", "notification.sent", data, cause=event)


def project(conn, event):
    """Reporting: keep the event, move the case's status forward in event time."""
    data = event["data"]
    conn.execute(
        "INSERT INTO events (source, id, type, time, case_id, correlationid, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (event["source"], event["id"], event["type"], event["time"], data["case_id"], event["correlationid"],
         json.dumps(data, ensure_ascii=False)))
    conn.execute(
        "INSERT INTO report_cases (case_id, number, status, status_at, updated_at)"
        " VALUES (%(case_id)s, %(number)s, %(status)s,"
        "         CASE WHEN %(status)s::text IS NULL THEN NULL ELSE %(at)s::timestamptz END, %(at)s)"
        " ON CONFLICT (case_id) DO UPDATE SET"
        "  status = CASE WHEN EXCLUDED.status IS NOT NULL AND (report_cases.status_at IS NULL"
        "                     OR EXCLUDED.status_at >= report_cases.status_at)"
        "           THEN EXCLUDED.status ELSE report_cases.status END,"
        "  status_at = GREATEST(report_cases.status_at, EXCLUDED.status_at),"
        "  updated_at = GREATEST(report_cases.updated_at, EXCLUDED.updated_at)",
        {"case_id": data["case_id"], "number": data["number"], "status": STATUS_AFTER.get(event["type"]),
         "at": event["time"]})
    return None


STAGES = {"routing": assign, "notify": notify, "reporting": project}


# --- consumers: one process per stage, `workers` threads each -------------------------------

def handle(conn, publisher, stage, event):
    """One delivery: inbox + change + outbox in one transaction, then the confirmed publish."""
    with conn.transaction():
        first = conn.execute(
            "INSERT INTO inbox (consumer, source, event_id) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (stage, event["source"], event["id"])).fetchone()
        following = STAGES[stage](conn, event) if first else None
        if following is not None:
            stage_outbox(conn, stage, following)
    if following is not None:
        publisher.publish(stage, following)
        mark_published(conn, following)


def consume(stage, db_url, amqp_uri, ready, stopping):
    publisher = Publisher(amqp_uri)
    try:
        with psycopg.connect(db_url) as conn, Connection(amqp_uri) as consuming:
            def on_message(body, message):
                try:
                    handle(conn, publisher, stage, body)
                except psycopg.errors.UniqueViolation:
                    # Two events of one new case projected at once race on report_cases' second
                    # unique key (number); rolled back, retried, as the services' handlers are.
                    message.requeue()
                    return
                message.ack()  # only after the work is committed and the next event confirmed

            with Consumer(consuming, queues=[QUEUES[stage]], callbacks=[on_message],
                          accept=["application/json"], prefetch_count=1):
                ready.put(stage)
                while not stopping.is_set():
                    try:
                        consuming.drain_events(timeout=0.5)
                    except socket.timeout:
                        pass
    except Exception:
        traceback.print_exc()  # the main process then times out waiting for the cases
        raise
    finally:
        publisher.close()


def stage_process(stage, workers, db_url, amqp_uri, ready, stopping):
    threads = [threading.Thread(target=consume, args=(stage, db_url, amqp_uri, ready, stopping))
               for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --- the run ---------------------------------------------------------------------------------

def create_schema(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SCHEMA)


def declare_topology(amqp_uri):
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        for queue in QUEUES.values():
            queue(channel).declare()


def delete_topology(amqp_uri):
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        for queue in QUEUES.values():
            channel.queue_delete(queue.name)
        for exchange in EXCHANGES.values():
            channel.exchange_delete(exchange.name)


class Intake:
    """The producer side, in the measuring process: C client threads share a pool of as many
    database connections as intake has workers (nameko's max_workers), as intake's requests do."""

    def __init__(self, db_url, amqp_uri, pool_size):
        self.amqp_uri = amqp_uri
        self.pool = ConnectionPool(db_url, min_size=pool_size, max_size=pool_size, open=False)
        self.pool.open(wait=True, timeout=15)

    def worker(self):
        publisher = Publisher(self.amqp_uri)

        def register_one(i):
            with self.pool.connection() as conn:
                with conn.transaction():
                    event = register(conn, measure.registration(i))
                    stage_outbox(conn, "intake", event)
            publisher.publish("intake", event)  # no database connection held while waiting
            with self.pool.connection() as conn:
                mark_published(conn, event)
            return event["data"]["number"]

        return register_one, publisher.close

    def close(self):
        self.pool.close()


def run(args, db_url, amqp_uri, cpu_groups=None):
    """Start the consumers, measure like the services' run, stop them; returns a Result."""
    create_schema(db_url)
    delete_topology(amqp_uri)  # a crashed earlier run may have left messages behind
    declare_topology(amqp_uri)
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: nothing inherited from the parent
    ready, stopping = ctx.Queue(), ctx.Event()
    processes = [ctx.Process(target=stage_process, name=stage,
                             args=(stage, args.workers, db_url, amqp_uri, ready, stopping))
                 for stage in STAGES]
    intake = None
    try:
        for p in processes:
            p.start()
        for _ in range(len(STAGES) * args.workers):
            ready.get(timeout=60)
        intake = Intake(db_url, amqp_uri, min(args.concurrency, args.workers))
        return measure.measure("raw kombu + psycopg baseline", args.cases, args.concurrency, intake.worker,
                               read_model(db_url), args.poll_ms / 1000, args.timeout, args.warmup,
                               cpu_groups={**measure.process_groups({p.name: [p.pid] for p in processes}),
                                           **(cpu_groups or {})},
                               self_label="producer (intake's work) + client", rate=args.rate)
    finally:
        stopping.set()
        for p in processes:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join()
        if intake is not None:
            intake.close()
        delete_topology(amqp_uri)
