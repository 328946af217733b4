"""Open311's HTTP edge on intake: routes that take the token from `api_key` as well as from the
Authorization header, read the standard's form-encoded POST, and answer errors the standard's
way — a JSON array of {code, description}, one entry per bad field, named as the client sent it
(a registration's `location` is the form's address_id) — with the same statuses."""
import json
import re

from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from fengqiao.web import MAX_BODY_BYTES, Problem, Route, invalid, json_response, load_query
from services.intake import open311

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_ATTRIBUTE = re.compile(r"^attribute\[(.+)\]$")
_KEPT_HEADERS = ("WWW-Authenticate", "Retry-After")


class Open311Route(Route):
    request_media_type = FORM_TYPES[0]
    error_content = {"application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {
        "code": {"type": "integer", "description": "the HTTP status"}, "description": {"type": "string"}}}}}}

    def _token(self, request):
        """Open311 clients send the token as `api_key`: in a GET's query, in a POST's form (never
        its query, which the audit log records as the target)."""
        if request.headers.get("Authorization") is None:
            key = form(request).get("api_key") if request.method == "POST" else request.args.get("api_key")
            if key:
                return key
        return super()._token(request)

    def handle_request(self, request):
        response = super().handle_request(request)
        if response.mimetype != "application/problem+json":
            return response
        problem = json.loads(response.get_data(as_text=True))
        status = response.status_code
        errors = [{"code": status, "description": f"{open311.form_field(e['field'])}: {e['message']}"
                   if e["field"] else e["message"]} for e in problem.get("errors") or []]
        return json_response(errors or [{"code": status, "description": problem.get("detail") or problem["title"]}],
                             status=status, headers={h: response.headers[h] for h in _KEPT_HEADERS
                                                     if h in response.headers})


open311_route = Open311Route.decorator


def form(request):
    """The POST's fields. 415 for a body that is no form, 413 for one too large."""
    if request.mimetype not in FORM_TYPES:
        raise Problem(415, "Unsupported Media Type", f"the body must be a form ({FORM_TYPES[0]}), not"
                                                     f" {request.mimetype or 'untyped'}")
    request.shallow = False  # read before the handler when the form carries api_key (nameko clears it too)
    request.max_content_length = MAX_BODY_BYTES
    try:
        return request.form
    except RequestEntityTooLarge:
        raise Problem(413, "Content Too Large", f"a request body may hold at most {MAX_BODY_BYTES // 1024} KiB")


def load_form(request, schema, county):
    """The POST's fields loaded by `schema`, attribute[code] fields gathered as `attributes`."""
    data, attributes = {}, {}
    for name, value in form(request).items():
        found = _ATTRIBUTE.match(name)
        if found:
            attributes[found[1]] = value
        else:
            data[name] = value
    if attributes:
        data["attributes"] = attributes
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise invalid(exc.messages)
    return _in_county(county, loaded)


def load_call(request, schema, county):
    """A GET's query loaded by `schema` (400 by field), for this county."""
    return _in_county(county, load_query(request, schema))


def _in_county(county, loaded):
    errors = open311.jurisdiction_errors(county, loaded["jurisdiction_id"])
    if errors:
        raise invalid(errors)
    return loaded


def json_only(fmt):
    """The standard documents .xml and .json; this server answers JSON."""
    if fmt != "json":
        raise Problem(400, "Invalid request", errors=[{"field": "format", "message": (
            f"only JSON is served here: ask for .json, not .{fmt}")}])
