"""Registering a case (登记): the rules, free of HTTP, broker and SQL."""
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from fengqiao import access
from fengqiao.facts import Invalid
from services.intake.personal_data import mask, normalize_phone

# 来访, 来信, 来电, 12345 工单, 网上, 网格上报, 代办, 上级交办
CHANNELS = ("visit", "letter", "phone", "hotline", "online", "grid_report", "proxy", "referral")
# The block of details each channel must carry, and only that channel.
CHANNEL_DETAILS = {"hotline": "hotline", "grid_report": "grid_report", "proxy": "proxy", "referral": "referral"}
# Where nobody need be named: a letter or call may be anonymous; a grid worker reports a
# problem before anyone complains (未诉先办). A visit or a proxy filing always has a person.
ANONYMOUS_ALLOWED = {"letter", "phone", "hotline", "online", "grid_report", "referral"}
COLLECTIVE_FROM = 5  # five or more petitioners on one matter: a collective petition (集体访)
DEFAULT_REPEAT_WINDOW_DAYS = 90


class Rejected(Invalid):
    """The registration breaks a rule; `errors` maps field -> message."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def new_case(county, registration, now=None):
    """A case ready to be numbered and stored, or Rejected naming each bad field."""
    errors = _matter_problems(county, registration["location"], registration["category"])
    node = county.nodes.get(registration["location"])
    category = county.categories.get(registration["category"])
    errors.update(_channel_problems(county, registration))
    if category is not None:
        errors.update(_classification_problems(county, category, registration))
    now = now or datetime.now(timezone.utc)
    received_at = registration.get("received_at") or now
    if received_at > now:
        errors["received_at"] = "lies in the future"
    if errors:
        raise Rejected(errors)
    petitioners = [_normalized(p) for p in registration["petitioners"]]
    return {
        "id": uuid.uuid4(),
        "channel": registration["channel"],
        "location": node.code,
        "township": county.township_of(node.code).code,
        "place": place_of(county, node.code),
        "category": registration["category"],
        "channel_class": registration.get("channel_class") or category["channel_class"],
        "proposed_channel_class": category["channel_class"],
        "channel_class_reason": registration.get("channel_class_reason"),
        "guided_to": _guidance(county, category, registration.get("guided_to")),
        "subject": registration["subject"],
        "description": registration["description"],
        "received_at": received_at,
        "registered_at": now,
        "anonymous": registration["anonymous"],
        "collective": len(petitioners) >= COLLECTIVE_FROM,
        "petitioners": petitioners,
        "details": _details(registration),
    }


def _channel_problems(county, r):
    errors = {}
    channel = r["channel"]
    for c, block in CHANNEL_DETAILS.items():
        if c == channel and r.get(block) is None:
            errors[block] = f"required for channel {channel}"
        elif c != channel and r.get(block) is not None:
            errors[block] = f"only for channel {c}"
    if r["anonymous"] and channel not in ANONYMOUS_ALLOWED:
        errors["anonymous"] = f"a {channel} registration names its petitioner"
    elif r["anonymous"] and r["petitioners"]:
        errors["anonymous"] = "an anonymous registration lists no petitioners"
    elif not r["anonymous"] and not r["petitioners"] and channel != "grid_report":
        errors["petitioners"] = "name at least one petitioner, or register as anonymous where the channel allows it"
    if channel == "proxy" and r.get("proxy") and not r["proxy"]["consent"]:
        errors["proxy.consent"] = "a proxy files only with the citizen's consent"
    grid = (r.get("grid_report") or {}).get("grid")
    if channel == "grid_report" and grid is not None:
        node = county.nodes.get(grid)
        if node is None or node.level != "grid":
            errors["grid_report.grid"] = "not a grid of this county"
    return errors


def _classification_problems(county, category, r):
    """The clerk may override the proposed channel class (依法分类), but must say why; a
    matter guided to its lawful route at the window goes to a route outside the petition system."""
    errors = {}
    chosen = r.get("channel_class")
    if chosen and chosen != category["channel_class"] and not r.get("channel_class_reason"):
        errors["channel_class_reason"] = (
            f"say why the proposed class {category['channel_class']} does not apply")
    guided = r.get("guided_to")
    if guided is not None:
        route = county.lawful_routes.get(guided["route"])
        outside = [c for c, v in county.lawful_routes.items() if v["outside_petitions"]]
        if route is None or not route["outside_petitions"]:
            errors["guided_to.route"] = f"guidance leads outside the petition system: one of {', '.join(outside)}"
    return errors


def _guidance(county, category, guided):
    """What the petitioner was told at the window (引导至法定途径): the route and its basis."""
    if guided is None:
        return None
    return {"route": guided["route"], "label": county.lawful_routes[guided["route"]]["label"],
            "legal_basis": category["legal_basis"], "note": guided.get("note")}


def _matter_problems(county, location, category):
    errors = {}
    node = county.nodes.get(location)
    if node is None or node.level == "county":
        errors["location"] = "not a township, village or grid of this county"
    if category not in county.categories:
        errors["category"] = f"unknown category; known: {', '.join(county.categories)}"
    return errors


def repeat_probe(county, location, category, petitioners):
    """What a repeat check (查重) asks: the place two matters count as the same at, the
    category, and the people by ID number and phone as registering would store them; or
    Rejected. Registering links a petition of any of these people on this matter to their case
    of the repeat window (重复信访)."""
    errors = _matter_problems(county, location, category)
    people = [_normalized({"name": "", **p}) for p in petitioners]
    if not any(p["id_number"] or p["phone"] for p in people):
        errors["petitioners"] = "give an ID number or a phone of at least one petitioner"
    if errors:
        raise Rejected(errors)
    return place_of(county, location), category, people


def _normalized(p):
    return {
        "name": p["name"],
        "id_number": p["id_number"].upper() if p.get("id_number") else None,
        "phone": normalize_phone(p["phone"]) if p.get("phone") else None,
        "address": p.get("address"),
    }


def _details(r):
    block = CHANNEL_DETAILS.get(r["channel"])
    return dict(r[block]) if block else {}


def place_of(county, node_code):
    """Where two matters count as "the same place": the village (for a village or a grid),
    else the township."""
    node = county.nodes[node_code]
    while node.level == "grid":
        node = county.nodes[node.parent]
    return node.code


def repeat_window_start(county, now):
    days = county.policies.get("repeat_window_days", DEFAULT_REPEAT_WINDOW_DAYS)
    return now - timedelta(days=days)


def number_year(county, case):
    """Case numbers count per township and registration year, in county time."""
    return case["registered_at"].astimezone(ZoneInfo(county.timezone)).year


def case_number(township, year, sequence):
    return f"{township}-{year}-{sequence:06d}"


def masked(petitioners):
    return [{"name": p["name"], "id_number": mask(p["id_number"]), "phone": mask(p["phone"])} for p in petitioners]


def registered_event(case):
    """The data of `case.registered`; personal data masked, and of a discipline report no text
    and no petitioner at all (their number only)."""
    data = {
        "case_id": str(case["id"]),
        "number": case["number"],
        "channel": case["channel"],
        "location": case["location"],
        "township": case["township"],
        "category": case["category"],
        "channel_class": case["channel_class"],
        "subject": case["subject"],
        "description": case["description"],  # routing's risk rules read it (扬言极端行为)
        "received_at": case["received_at"].isoformat(),
        "registered_at": case["registered_at"].isoformat(),
        "anonymous": case["anonymous"],
        "collective": case["collective"],
        "petitioner_count": len(case["petitioners"]),
        "petitioners": masked(case["petitioners"]),
        "details": case["details"],
        "proposed_channel_class": case["proposed_channel_class"],
        "guided_to": case["guided_to"] and case["guided_to"]["route"],
    }
    if case["channel_class"] == access.DISCIPLINE:
        data.update(subject=access.WITHHELD, description="", petitioners=[], details={})
    return data


def guided_event(case):
    """The data of `case.guided`: handled at first contact by guiding the matter to its lawful
    route (诉访分离, 依法分类处理)."""
    return {"case_id": str(case["id"]), "number": case["number"], "township": case["township"],
            **{k: case["guided_to"][k] for k in ("route", "label", "legal_basis", "note")}}


def repeat_linked_event(original, repeat):
    """The data of `case.repeat_linked`: a new petition on a matter already open (重复信访)."""
    return {
        "case_id": str(original["id"]),
        "number": original["number"],
        "repeat_count": original["repeat_count"],
        "channel": repeat["channel"],
        "received_at": repeat["received_at"].isoformat(),
        "petitioners": [] if original["channel_class"] == access.DISCIPLINE else masked(repeat["petitioners"]),
    }
