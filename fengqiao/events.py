"""The event envelope: CloudEvents 1.0 in structured JSON mode, with a `correlationid`
extension carried from the first event of a case through every event it causes."""
import uuid
from datetime import datetime, timezone

REQUIRED = ("specversion", "id", "source", "type", "time", "datacontenttype", "data", "correlationid")


class InvalidEvent(ValueError):
    """A message that is not a Fengqiao CloudEvent; it can never be handled, however often retried."""


def source_of(service):
    return f"/fengqiao/{service}"


def exchange_of(service):
    """The topic exchange a service publishes on; the routing key is the event type."""
    return f"{service}.events"


def new_event(service, type, data, subject=None, correlationid=None):
    event_id = str(uuid.uuid4())
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source_of(service),
        "type": type,
        "time": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": "application/json",
        # The first event of a chain correlates with itself unless the caller brought an id.
        "correlationid": correlationid or event_id,
        "data": data,
    }


def caused_by(cause, service, type, data, subject=None):
    """An event that follows from `cause`: same correlation, same subject unless given."""
    return new_event(
        service, type, data,
        subject=subject if subject is not None else cause.get("subject"),
        correlationid=cause["correlationid"],
    )


def validate(envelope):
    if not isinstance(envelope, dict):
        raise InvalidEvent(f"event body is {type(envelope).__name__}, not a JSON object")
    missing = [k for k in REQUIRED if k not in envelope]
    if missing:
        raise InvalidEvent(f"event lacks {', '.join(missing)}")
    if envelope["specversion"] != "1.0":
        raise InvalidEvent(f"unsupported specversion {envelope['specversion']!r}")
    if not isinstance(envelope["type"], str) or not isinstance(envelope["data"], (dict, type(None))):
        raise InvalidEvent("an event's type is a string and its data an object")
    return envelope
