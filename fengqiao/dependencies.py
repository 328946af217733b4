"""nameko dependency providers every service uses: the database (with its outbox relay) and the
service's OpenAPI document."""
import re
import threading
from contextlib import contextmanager

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from nameko.extensions import DependencyProvider

from fengqiao import audit, db, inbox, logmask, outbox
from fengqiao.events import caused_by, new_event
from fengqiao.messaging import connect
from fengqiao.web import AUDITED_KEY, PRINCIPAL_KEY, Route, routes_of


class Tx:
    """One database transaction of a service: run SQL, emit events into the outbox, and
    record which events this consumer has handled."""

    def __init__(self, conn, service, consumer):
        self.conn, self.service, self.consumer = conn, service, consumer
        self.emitted = []

    def execute(self, query, params=None):
        return self.conn.execute(query, params)

    def emit(self, type, data, subject=None, cause=None, correlationid=None):
        if cause is not None:
            event = caused_by(cause, self.service, type, data, subject=subject)
        else:
            event = new_event(self.service, type, data, subject=subject, correlationid=correlationid)
        outbox.emit(self.conn, self.service, event)
        self.emitted.append(event)
        return event

    def already_handled(self, event):
        """True if this consumer handled `event` before (a redelivery): then do nothing."""
        if self.consumer is None:
            raise RuntimeError("already_handled() is for event handlers")
        return not inbox.first_delivery(self.conn, self.consumer, event)


class DatabaseHandle:
    def __init__(self, provider, consumer, request=None):
        self._provider, self._consumer, self._request = provider, consumer, request

    @contextmanager
    def transaction(self):
        p = self._provider
        with db.transaction(p.pool) as conn:
            tx = Tx(conn, p.container.service_name, self._consumer)
            yield tx
            audited = self._audit_change(conn, tx)
        if audited:  # committed with the change
            self._request.environ[AUDITED_KEY] = True
        if tx.emitted:
            p.relay.wakeup.set()  # committed: publish now rather than at the next poll

    def _audit_change(self, conn, tx):
        """A person's command is audited in the transaction whose change emits its events: both
        commit, or neither (a transaction that emitted nothing may yet end in a refusal; Route
        audits a command that succeeded without emitting)."""
        request = self._request
        if request is None or request.method in ("GET", "HEAD") or not tx.emitted or request.environ.get(AUDITED_KEY):
            return False
        who = request.environ.get(PRINCIPAL_KEY)
        if who is None:
            return False
        audit.record(conn, who, request.environ["fengqiao.action"], _target(request), request.remote_addr,
                     audit_details(request, events=[e["type"] for e in tx.emitted]))
        return True

    @contextmanager
    def reading(self):
        """A read-only transaction on one snapshot: what its statements read belongs together (a
        row and the rows written with it), where each statement of a plain transaction sees the
        database as of its own start."""
        with db.transaction(self._provider.pool) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Tx(conn, self._provider.container.service_name, self._consumer)

    def query(self, sql, params=None):
        with self._provider.pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def readiness(self):
        """{"database": ok?, "broker": ok?}: ready only when both answer."""
        checks = {}
        try:
            db.ping(self._provider.pool)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {exc.__class__.__name__}"
        try:
            with connect(self._provider.container.config["AMQP_URI"], connect_timeout=2) as conn:
                conn.connect()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unavailable: {exc.__class__.__name__}"
        return checks


class Database(DependencyProvider):
    def setup(self):
        config = self.container.config
        self.pool = db.open_pool(config["DATABASE_URL"], max_size=config.get("max_workers", 10) + 2)
        self.relay = outbox.Relay(self.container.service_name, self.pool, config["AMQP_URI"])
        self.stopping = threading.Event()
        self._relay_thread = None

    def start(self):
        idle = self.container.config.get("RELAY_IDLE_SECONDS", 0.5)
        self._relay_thread = self.container.spawn_managed_thread(
            lambda: self.relay.run(self.stopping, idle), identifier="outbox-relay")

    def stop(self):
        self.stopping.set()
        self.relay.wakeup.set()
        if self._relay_thread is not None:
            self._relay_thread.wait()
        self.relay.close()
        self.pool.close()

    def kill(self):
        self.stopping.set()
        self.pool.close()

    def get_dependency(self, worker_ctx):
        request = worker_ctx.args[0] if isinstance(worker_ctx.entrypoint, Route) and worker_ctx.args else None
        return DatabaseHandle(self, getattr(worker_ctx.entrypoint, "queue_name", None), request)

    def audit(self, request, details):
        """An entry of its own: a read of personal data, or a command whose work opened no
        transaction here. Written before the answer leaves: no entry, no answer."""
        with db.transaction(self.pool) as conn:
            audit.record(conn, request.environ[PRINCIPAL_KEY], request.environ["fengqiao.action"], _target(request),
                         request.remote_addr, audit_details(request, **details))


def audit_details(request, **details):
    forwarded = request.headers.get("X-Forwarded-For", "").replace("\x00", "")[:200]  # behind the gateway
    return {**details, **({"forwarded_for": forwarded} if forwarded else {})}


def _target(request):
    """What was asked: the path with its query (a list read names what it filtered by), but
    never a token sent in it (Open311's api_key)."""
    return logmask.mask_credentials(request.full_path.rstrip("?"))


_PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}


def _path_of(rule):
    """werkzeug `/cases/<number>` or `/x/<int:id>` -> OpenAPI `/cases/{number}`, with params."""
    names = re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule), names


def openapi_document(service, routes):
    """The OpenAPI 3 document of a service from its (method name, Route) pairs."""
    spec = APISpec(title=f"Fengqiao {service}", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", _PROBLEM)
    paths = {}
    for method_name, r in sorted(routes, key=lambda mr: (mr[1].url, mr[1].method)):
        problem = {"content": r.error_content}
        path, names = _path_of(r.url)
        op = {"summary": r.summary or method_name, "operationId": method_name, "responses": {}}
        params = [{"in": "path", "name": n, "required": True, "schema": {"type": "string"}} for n in names]
        if r.query_schema is not None:
            params.append({"in": "query", "schema": r.query_schema})
        if params:
            op["parameters"] = params
        if r.request_schema is not None:
            media = {"schema": r.request_schema}
            if r.example is not None:
                media["example"] = r.example
            op["requestBody"] = {"required": True, "content": {r.request_media_type: media}}
            op["responses"]["400"] = {"description": "invalid input, field by field", **problem}
        ok = {"description": "success"}
        if r.response_schema is not None:
            ok["content"] = {"application/json": {"schema": r.response_schema}}
        op["responses"][str(r.status)] = ok
        for status, description in r.also.items():
            op["responses"][str(status)] = {**ok, "description": description}
        if not r.public:
            op["security"] = [{"bearer": []}]
            op["responses"]["401"] = {"description": "missing or invalid token", **problem}
            if r.roles:
                op["responses"]["403"] = {"description": f"needs a role among {', '.join(r.roles)}", **problem}
        paths.setdefault(path, {})[r.method.lower()] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


class OpenApi(DependencyProvider):
    def setup(self):
        self.document = None

    def get_dependency(self, worker_ctx):
        if self.document is None:
            self.document = openapi_document(self.container.service_name, routes_of(self.container.service_cls))
        return self.document
