"""The HTTP entrypoint every service uses: authentication in one place, errors as
application/problem+json (RFC 9457) with a field-by-field list, and request metrics."""
import json
import logging
import time
import uuid
from contextlib import contextmanager

from marshmallow import ValidationError
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from fengqiao import auth, facts, metrics
from fengqiao.ratelimit import WriteLimiter

log = logging.getLogger(__name__)

PRINCIPAL_KEY = "fengqiao.principal"
AUDITED_KEY = "fengqiao.audited"  # set once the request's command has its audit entry
AUDIT_DETAILS_KEY = "fengqiao.audit_details"


class Problem(Exception):
    def __init__(self, status, title, detail=None, errors=None, headers=None):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers or {}

    def response(self):
        body = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors is not None:
            body["errors"] = self.errors
        headers = {**({"WWW-Authenticate": "Bearer"} if self.status == 401 else {}), **self.headers}
        return Response(json.dumps(body, ensure_ascii=False), status=self.status,
                        headers=headers, mimetype="application/problem+json")


def field_errors(messages, prefix=""):
    """Flatten marshmallow's nested messages into [{field, message}] with dotted paths."""
    errors = []
    for field, value in messages.items():
        path = f"{prefix}{field}"
        if isinstance(value, dict):
            errors += field_errors(value, prefix=f"{path}.")
        else:
            for message in (value if isinstance(value, list) else [value]):
                if isinstance(message, dict):
                    errors += field_errors(message, prefix=f"{path}.")
                else:
                    errors.append({"field": path, "message": str(message)})
    return errors


def invalid(messages):
    return Problem(400, "Invalid request", "Some fields are missing or wrong; nothing was changed.",
                   errors=field_errors(messages))


def json_response(data, status=200, headers=None):
    return Response(json.dumps(data, ensure_ascii=False, default=str), status=status,
                    headers=headers, mimetype="application/json")


MAX_BODY_BYTES = 1024 * 1024  # a JSON command is small; a ledger upload has its own limit


def load_body(request, schema):
    """Parse and validate a JSON body; a Problem (400) names every bad field, one too large is
    a 413 before it is read, one that is not JSON by its Content-Type a 415."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise Problem(415, "Unsupported Media Type", f"the body must be JSON (Content-Type: application/json),"
                                                     f" not {request.mimetype or 'untyped'}")
    request.max_content_length = MAX_BODY_BYTES
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except RequestEntityTooLarge:
        raise Problem(413, "Content Too Large", f"a request body may hold at most {MAX_BODY_BYTES // 1024} KiB")
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise Problem(400, "Invalid JSON", str(exc)[:200], errors=[{"field": "", "message": "not valid JSON"}])
    if not isinstance(data, dict):
        raise Problem(400, "Invalid request", errors=[{"field": "", "message": "expected a JSON object"}])
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise invalid(exc.messages)


def load_query(request, schema):
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise invalid(exc.messages)


@contextmanager
def refusals_as_problems():
    """A domain's refusals (fengqiao/facts.py) as HTTP problems: Invalid is a 400 naming each
    field, Refused a 409 saying why, NotFound a 404, Forbidden a 403. Nothing was written: the
    transaction inside is rolled back by the same exception."""
    try:
        yield
    except facts.Invalid as exc:
        raise invalid(exc.errors)
    except facts.Refused as exc:
        raise Problem(409, "Conflict", str(exc))
    except facts.NotFound as exc:
        raise Problem(404, "Not Found", str(exc))
    except facts.Forbidden as exc:
        raise Problem(403, "Forbidden", str(exc))


def is_uuid(text):
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def principal(request):
    return request.environ[PRINCIPAL_KEY]


def note_for_audit(request, **details):
    """What a read's audit entry should say beyond its path: whom it looked up, what it showed."""
    request.environ.setdefault(AUDIT_DETAILS_KEY, {}).update(details)


def _refuse_nul(request):
    """A NUL in a path or query value can reach no valid record (and PostgreSQL refuses it)."""
    values = list(request.path_values.values()) + list(request.args.values())
    if any("\x00" in str(v) for v in values):
        raise Problem(400, "Invalid request", "a path or query value contains a NUL character")


class _ProblemWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)  # shallow as in nameko: body read only by the handler
        try:
            provider, request.path_values = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:  # unknown path or method: problem+json, not werkzeug's HTML
            response = Problem(exc.code, exc.name, exc.description).response()
        else:
            response = provider.handle_request(request)
        return response(environ, start_response)


class ProblemWebServer(WebServer):
    def setup(self):
        config = self.container.config
        self.limiter = WriteLimiter(float(config.get("WRITE_RATE", 0)), float(config.get("WRITE_BURST", 0)))
        super().setup()

    def get_wsgi_app(self):
        return _ProblemWsgiApp(self)


class Route(HttpRequestHandler):
    """`@route("POST", "/cases", roles=("clerk",), request_schema=..., example=...)`.
    Every request passes authentication here unless the route is `public`."""

    server = ProblemWebServer()
    # For the API document: what a request body is, and how errors look.
    request_media_type = "application/json"
    error_content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

    def __init__(self, method, url, public=False, roles=None, summary="", request_schema=None,
                 response_schema=None, query_schema=None, example=None, status=200, also=None,
                 personal_data=False, **kwargs):
        self.public, self.roles, self.summary = public, roles, summary
        self.personal_data = personal_data  # a read that shows personal data: audited
        self.also = also or {}  # other success statuses: {status: description}, for the API document
        self.request_schema, self.response_schema, self.query_schema = request_schema, response_schema, query_schema
        self.example, self.status = example, status
        kwargs.setdefault("expected_exceptions", (Problem,))
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        started = time.perf_counter()
        try:
            _refuse_nul(request)
            if not self.public:
                request.environ[PRINCIPAL_KEY] = self._authenticate(request)
                self._within_rate(request)
                request.environ["fengqiao.action"] = f"{self.method} {self.url.replace('<', '{').replace('>', '}')}"
            response = super().handle_request(request)
            if not self.public and response.status_code < 400:
                self._audit(request, response)
        except Problem as problem:
            response = problem.response()
        except Exception as exc:  # never an empty 500
            response = self.response_from_exception(exc)
        metrics.HTTP_REQUESTS.labels(
            self.container.service_name, request.method, self.url, str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    def _within_rate(self, request):
        if self.method == "GET":  # (werkzeug answers HEAD by the GET rule: a read too)
            return
        wait = self.server.limiter.take(request.environ[PRINCIPAL_KEY].subject)
        if wait:
            raise Problem(429, "Too Many Requests", "too many commands from this token: slow down",
                          headers={"Retry-After": str(max(1, round(wait)))})

    def _audit(self, request, response):
        """Every command a person makes, and every read of personal data, in the audit log."""
        if self.method == "GET" and not self.personal_data or request.environ.get(AUDITED_KEY):
            return
        database = next(d for d in self.container.dependencies if hasattr(d, "audit"))
        database.audit(request, {"status": response.status_code, **request.environ.get(AUDIT_DETAILS_KEY, {})})

    def _authenticate(self, request):
        config = self.container.config
        try:
            who = auth.verify(config["JWT_SECRET"], config["JWT_AUDIENCE"], self._token(request),
                              config.get("JWT_JWKS"), config.get("JWT_ISSUER", auth.ISSUER))
        except auth.AuthError as exc:
            raise Problem(401, "Unauthorized", str(exc))
        except auth.KeysUnavailable as exc:
            log.error("%s: %r", exc, exc.__cause__)
            raise Problem(503, "Service Unavailable", "tokens cannot be checked now; try again shortly")
        if self.roles and not who.has_any(self.roles):
            raise Problem(403, "Forbidden", f"this needs one of the roles: {', '.join(self.roles)}")
        return who

    def _token(self, request):
        """The bearer token (a route for other clients may take it from elsewhere too)."""
        return auth.bearer_token(request.headers.get("Authorization"))

    def response_from_exception(self, exc):
        if isinstance(exc, Problem):
            return exc.response()
        log.error("unexpected error on %s %s: %r", self.method, self.url, exc)
        return Problem(500, "Internal Server Error", "The error was logged.").response()


route = Route.decorator


def routes_of(service_cls):
    """(method name, Route) of every HTTP entrypoint of a service class, without starting it."""
    return sorted(
        (attr, ext) for attr in dir(service_cls)
        for ext in getattr(getattr(service_cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ())
        if isinstance(ext, Route))
