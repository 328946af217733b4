"""The base of every service: database, health, metrics and OpenAPI endpoints."""
from fengqiao import metrics
from fengqiao.dependencies import Database, OpenApi
from fengqiao.web import json_response, route
from werkzeug.wrappers import Response


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
