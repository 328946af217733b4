"""Prometheus metrics shared by every service. Labels are bounded sets: route templates,
queue names and outcomes, never case or person ids."""
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import REGISTRY

HTTP_REQUESTS = Histogram(
    "fengqiao_http_request_duration_seconds", "HTTP requests by route and status",
    ["service", "method", "route", "status"],
)
EVENTS_HANDLED = Counter(
    "fengqiao_events_handled_total", "Events handled by queue and outcome (ok, retried, dead_lettered)",
    ["queue", "outcome"],
)
OUTBOX_PUBLISHED = Counter("fengqiao_outbox_published_total", "Events published from the outbox", ["service"])
OUTBOX_FAILURES = Counter(
    "fengqiao_outbox_publish_failures_total", "Outbox publishes that failed and will be retried",
    ["service", "reason"],
)
OUTBOX_PENDING = Gauge("fengqiao_outbox_pending", "Events waiting in the outbox", ["service"])
OUTBOX_OLDEST_SECONDS = Gauge(
    "fengqiao_outbox_oldest_pending_seconds", "Age of the oldest event waiting in the outbox", ["service"],
)
NOTIFICATIONS = Counter(
    "fengqiao_notifications_total",
    "Messages by channel (inbox, email, sms, webhook) and outcome (sent, retried, failed)",
    ["channel", "outcome"],
)
# Reporting's business gauges (bounded labels: townships, colours, event families).
WEBHOOK_DELIVERIES = Counter(
    "fengqiao_webhook_deliveries_total", "Events sent to webhook subscribers, by outcome (delivered, retried, failed)",
    ["outcome"])
OPEN_CASES = Gauge("fengqiao_open_cases", "Cases being handled, by township and risk colour", ["township", "risk"])
OVERDUE_CASES = Gauge("fengqiao_overdue_cases", "Cases being handled past a deadline, by township", ["township"])
OLDEST_OPEN_CASE = Gauge("fengqiao_oldest_open_case_seconds", "Age of the oldest case still being handled")
EVENTS_PROJECTED = Counter("fengqiao_events_projected_total", "Events reporting took in, by family (case, "
                           "deadline, mediation, notification, …)", ["family"])
PROJECTION_LAG = Gauge("fengqiao_projection_lag_seconds", "How long the last event reporting took in had travelled")
# The lag only moves when an event comes in; these tell a reporting that takes none in at all.
PROJECTION_WAITING = Gauge("fengqiao_projection_waiting_events", "Events waiting in reporting's queue")
PROJECTION_LAST = Gauge("fengqiao_projection_last_event_timestamp_seconds",
                        "When reporting last took in an event (Unix time)")
CONFIG_RELOADS = Counter(
    "fengqiao_config_reloads_total",
    "Configuration files loaded again without a restart, by file (county, rules, …) and outcome (ok, refused)",
    ["file", "outcome"],
)


def exposition(accept_header):
    """(body, content type) for /metrics; choose_encoder avoids a doubled charset (pitfall 9)."""
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(REGISTRY), content_type


