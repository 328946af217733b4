"""Registering a case (登记): the rules, free of HTTP, broker and SQL."""
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

# 来访, 来信, 来电, 12345 工单, 网上, 网格上报, 代办, 上级交办
CHANNELS = ("visit", "letter", "phone", "hotline", "online", "grid_report", "proxy", "referral")


class Rejected(ValueError):
    """The registration contradicts the county configuration; `errors` maps field -> message."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def new_case(county, registration, now=None):
    """A case ready to be numbered and stored, or Rejected naming each bad field."""
    errors = {}
    node = county.nodes.get(registration["location"])
    if node is None or node.level == "county":
        errors["location"] = "not a township, village or grid of this county"
    category = county.categories.get(registration["category"])
    if category is None:
        errors["category"] = f"unknown category; known: {', '.join(county.categories)}"
    if errors:
        raise Rejected(errors)
    now = now or datetime.now(timezone.utc)
    received_at = registration.get("received_at") or now
    if received_at > now:
        raise Rejected({"received_at": "lies in the future"})
    return {
        "id": uuid.uuid4(),
        "channel": registration["channel"],
        "location": node.code,
        "township": county.township_of(node.code).code,
        "category": registration["category"],
        "channel_class": category["channel_class"],
        "subject": registration["subject"].strip(),
        "description": registration["description"].strip(),
        "received_at": received_at,
        "registered_at": now,
    }


def number_year(county, case):
    """Case numbers count per township and registration year, in county time."""
    return case["registered_at"].astimezone(ZoneInfo(county.timezone)).year


def case_number(township, year, sequence):
    return f"{township}-{year}-{sequence:06d}"


def registered_event(case):
    """The data of `case.registered`: no personal data, so nothing to mask."""
    return {
        "case_id": str(case["id"]),
        "number": case["number"],
        "channel": case["channel"],
        "location": case["location"],
        "township": case["township"],
        "category": case["category"],
        "channel_class": case["channel_class"],
        "subject": case["subject"],
        "received_at": case["received_at"].isoformat(),
        "registered_at": case["registered_at"].isoformat(),
    }
