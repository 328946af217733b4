"""Grafana dashboards as code: one per concern — the case flow, deadlines and risk, the
infrastructure — written to deploy/grafana/dashboards/ (`python -m scripts.dashboards`), which
Grafana loads through its provisioning (deploy/grafana/provisioning/). A test checks the files
are what this writes and that every query names metrics the services define."""
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def panel(title, exprs, unit="short", kind="timeseries", legend="{{component}}", stack=False, description=""):
    """A panel of one or more PromQL queries; `exprs` maps legend formats to queries, or is one query."""
    if isinstance(exprs, str):
        exprs = {legend: exprs}
    targets = [{"refId": chr(65 + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": fmt}
               for i, (fmt, expr) in enumerate(exprs.items())]
    custom = {"stacking": {"mode": "normal" if stack else "none"}} if kind == "timeseries" else {}
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "targets": targets, "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {}}


def dashboard(uid, title, description, rows):
    """Panels laid out two to a row (a stat row four to a row)."""
    panels, y = [], 0
    for row in rows:
        width = 24 // len(row)
        height = 4 if all(p["type"] == "stat" for p in row) else 8
        for i, p in enumerate(row):
            panels.append({**p, "id": len(panels) + 1, "gridPos": {"x": i * width, "y": y, "w": width, "h": height}})
        y += height
    return {"uid": uid, "title": title, "description": description, "tags": ["fengqiao"], "timezone": "browser",
            "schemaVersion": 39, "version": 1, "editable": False, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"}, "templating": {"list": []}, "annotations": {"list": []},
            "panels": panels}


def flow():
    rate = "sum by (component) (rate(fengqiao_http_request_duration_seconds_count{route!~\"/health.*|/metrics\"}[5m]))"
    return dashboard("fengqiao-flow", "Fengqiao — case flow",
                     "Cases in, events through the services, the read model keeping up, notices out.", [
        [panel("Cases registered per minute",
               {"registered": "60 * sum(rate(fengqiao_http_request_duration_seconds_count{component=\"intake\","
                              "route=\"/cases\",method=\"POST\",status=\"201\"}[5m]))"}, kind="stat"),
         panel("Events handled per second", "sum(rate(fengqiao_events_handled_total{outcome=\"ok\"}[5m]))",
               kind="stat", unit="ops"),
         panel("Events waiting in reporting's queue", "max(fengqiao_projection_waiting_events)", kind="stat"),
         panel("Reporting lag", "max(fengqiao_projection_lag_seconds)", kind="stat", unit="s")],
        [panel("HTTP requests per second", rate, unit="reqps"),
         panel("HTTP p95 latency", "histogram_quantile(0.95, sum by (component, le) "
               "(rate(fengqiao_http_request_duration_seconds_bucket{route!~\"/health.*|/metrics\"}[5m])))", unit="s")],
        [panel("Events handled by queue and outcome",
               "sum by (queue, outcome) (rate(fengqiao_events_handled_total[5m]))", legend="{{queue}} {{outcome}}",
               unit="ops"),
         panel("Events reporting took in, by family", "sum by (family) (rate(fengqiao_events_projected_total[5m]))",
               legend="{{family}}", unit="ops", stack=True)],
        [panel("Outbox waiting", "max by (service) (fengqiao_outbox_pending)", legend="{{service}}"),
         panel("Oldest event in an outbox", "max by (service) (fengqiao_outbox_oldest_pending_seconds)",
               legend="{{service}}", unit="s")],
        [panel("Notifications by channel and outcome",
               "sum by (channel, outcome) (rate(fengqiao_notifications_total[15m]))",
               legend="{{channel}} {{outcome}}", unit="ops"),
         panel("Since reporting last took in an event", "time() - max(fengqiao_projection_last_event_timestamp_seconds)",
               legend="seconds", unit="s")],
    ])


def deadlines_and_risk():
    return dashboard("fengqiao-deadlines-risk", "Fengqiao — deadlines and risk",
                     "What is being handled, what is late, and what is red, township by township.", [
        [panel("Cases being handled", "sum(fengqiao_open_cases)", kind="stat"),
         panel("Overdue now", "sum(fengqiao_overdue_cases)", kind="stat"),
         panel("Red cases", "sum(fengqiao_open_cases{risk=\"red\"})", kind="stat"),
         panel("Oldest case being handled", "max(fengqiao_oldest_open_case_seconds) / 86400", kind="stat",
               unit="d")],
        [panel("Cases being handled, by township", "sum by (township) (fengqiao_open_cases)", legend="{{township}}",
               stack=True),
         panel("Overdue cases, by township", "sum by (township) (fengqiao_overdue_cases)", legend="{{township}}",
               stack=True)],
        [panel("Cases being handled, by risk colour", "sum by (risk) (fengqiao_open_cases)", legend="{{risk}}",
               stack=True),
         panel("Red and yellow cases, by township", "sum by (township, risk) (fengqiao_open_cases{risk!=\"blue\"})",
               legend="{{township}} {{risk}}")],
    ])


def infrastructure():
    return dashboard("fengqiao-infrastructure", "Fengqiao — infrastructure",
                     "Each service up, its memory and CPU, its errors, and what it could not do.", [
        [panel("Services up", "sum(up{job=\"fengqiao\"})", kind="stat"),
         panel("Server errors per minute", "60 * sum(rate(fengqiao_http_request_duration_seconds_count"
               "{status=~\"5..\"}[5m]))", kind="stat"),
         panel("Messages dead-lettered (1 h)", "sum(increase(fengqiao_events_handled_total"
               "{outcome=\"dead_lettered\"}[1h]))", kind="stat"),
         panel("Configuration refused (1 h)", "sum(increase(fengqiao_config_reloads_total{outcome=\"refused\"}[1h]))",
               kind="stat")],
        [panel("Up", "up{job=\"fengqiao\"}"),
         panel("Resident memory", "process_resident_memory_bytes{job=\"fengqiao\"}", unit="bytes")],
        [panel("CPU", "rate(process_cpu_seconds_total{job=\"fengqiao\"}[5m])", unit="percentunit"),
         panel("Outbox publish failures", "sum by (service, reason) (rate(fengqiao_outbox_publish_failures_total[5m]))",
               legend="{{service}} {{reason}}", unit="ops")],
    ])


DASHBOARDS = {"flow.json": flow, "deadlines-and-risk.json": deadlines_and_risk, "infrastructure.json": infrastructure}


def rendered():
    return {name: json.dumps(make(), indent=2, ensure_ascii=False) + "\n" for name, make in DASHBOARDS.items()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
