"""The base of every service: database, health, metrics, OpenAPI and audit-log endpoints."""
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from fengqiao import audit, metrics
from fengqiao.dependencies import Database, OpenApi
from fengqiao.fields import Text
from fengqiao.web import json_response, load_query, route


class AuditQuery(Schema):
    subject = Text(load_default=None, metadata={"description": "who: a staff id or a service"})
    action = Text(load_default=None, metadata={"description": "what: the start of an action, e.g. \"POST /cases\""})
    from_ = fields.AwareDateTime(data_key="from", load_default=None)
    to = fields.AwareDateTime(load_default=None)
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class AuditEntrySchema(Schema):
    seq = fields.Integer()
    at = fields.AwareDateTime()
    subject = fields.String()
    roles = fields.List(fields.String())
    scope = fields.String()
    action = fields.String()
    target = fields.String()
    source = fields.String(allow_none=True)
    details = fields.Dict()
    hash = fields.String()


class AuditCheckSchema(Schema):
    entries = fields.Integer()
    intact = fields.Boolean()
    first_broken = fields.Integer(allow_none=True, metadata={"description": "the first entry whose chain breaks"})
    head = fields.String(metadata={"description": "the last entry's hash: note it to tell a later cut at the end"})


class BackboneService:
    db = Database()
    openapi = OpenApi()

    @route("GET", "/health/live", public=True, summary="The process answers")
    def health_live(self, request):
        return json_response({"status": "live"})

    @route("GET", "/health/ready", public=True, summary="Ready when the database and broker answer")
    def health_ready(self, request):
        checks = self.db.readiness()
        ready = all(v == "ok" for v in checks.values())
        return json_response({"status": "ready" if ready else "not ready", "checks": checks},
                             status=200 if ready else 503)

    @route("GET", "/metrics", public=True, summary="Prometheus metrics")
    def prometheus_metrics(self, request):
        body, content_type = metrics.exposition(request.headers.get("Accept"))
        return Response(body, status=200, headers={"Content-Type": content_type})

    @route("GET", "/openapi.json", public=True, summary="This service's HTTP API")
    def openapi_json(self, request):
        return json_response(self.openapi)

    @route("GET", "/audit", roles=("auditor",), query_schema=AuditQuery, response_schema=AuditEntrySchema(many=True),
           summary="The audit log: who changed or read what, when, from where (newest first)")
    def audit_log(self, request):
        query = load_query(request, AuditQuery())
        with self.db.transaction() as tx:
            found = audit.entries(tx.conn, query["subject"], query["action"], query["from_"], query["to"], query["limit"])
        return json_response(AuditEntrySchema(many=True).dump(found))

    @route("GET", "/audit/verify", roles=("auditor",), response_schema=AuditCheckSchema,
           summary="Walk the audit log's hash chain: is every entry there, unaltered?")
    def audit_verify(self, request):
        with self.db.transaction() as tx:
            return json_response(AuditCheckSchema().dump(audit.verify(tx.conn)))
