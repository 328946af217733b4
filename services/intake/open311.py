"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) on intake: the county's categories
as services, a service request as a registration (网上 or 12345 热线), a case as a service
request with open or closed. Pure: no framework, no SQL."""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from fengqiao.facts import Invalid

SERVICE_TYPE = "realtime"  # a service_request_id (our case number) comes back at once, no token
SEARCH_DAYS = 90           # the standard: a search spans at most 90 days, the last 90 by default
SEARCH_LIMIT = 1000        # the standard's default number of requests returned
MAX_IDS = 1000
SUBJECT_LENGTH = 50

# 依法分类处理: the channel class groups the services.
CLASS_LABELS = {"discipline": "纪检举报", "litigation": "涉法涉诉", "administrative": "行政职责",
                "civil_dispute": "矛盾纠纷", "petition": "信访诉求"}

# The lifecycle statuses in which the request has had its answer (办结, 不予受理, 结案, or guided at
# the window to its lawful route). A review (复查/复核, under_review) is the matter considered
# again: open. A status not listed here (one routing may add later) is open: still with us.
CLOSED = ("resolved", "followed_up", "closed", "not_accepted", "guided")
STATUS_NOTES = {
    "registered": "已登记，待分流交办",
    "assigned": "已交办，待签收",
    "signed": "已签收，待受理",
    "returned": "已退回，待重新交办",
    "in_progress": "已受理，办理中",
    "suspended": "中止办理，办理期限暂停",
    "not_accepted": "不予受理，已告知法定途径",
    "resolved": "已办结并答复",
    "followed_up": "已办结并回访",
    "under_review": "复查（复核）中",
    "closed": "已结案",
}

# The attributes every service takes (attribute[code] in a POST).
ATTRIBUTES = (
    {"code": "subject", "datatype": "string", "required": False,
     "description": "事由，一句话；缺省取描述的第一句"},
    {"code": "hotline_order_id", "datatype": "string", "required": False,
     "description": "12345 热线工单号：同一工单只登记一次，重复提交答复原案件编号"},
)

# Where a registration field's error is an Open311 field's (the same validation as POST /cases).
FORM_FIELDS = {
    "location": "address_id",
    "category": "service_code",
    "subject": "attribute[subject]",
    "hotline": "attribute[hotline_order_id]",
    "hotline.order_id": "attribute[hotline_order_id]",
    "petitioners.0.name": "last_name",
    "petitioners.0.phone": "phone",
}

_CJK = re.compile(r"[\u3400-\u9fff]")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


# --- services ------------------------------------------------------------------------------

def services(county):
    """GET services: one service per category of the county file."""
    return [_service(county, code, category) for code, category in county.categories.items()]


def _service(county, code, category):
    group = CLASS_LABELS[category["channel_class"]]
    route = county.lawful_routes[category["lawful_route"]]["label"]
    return {"service_code": code, "service_name": category["label"],
            "description": f"{category['label']}（{group}）。法定途径：{route}",
            "metadata": True, "type": SERVICE_TYPE,
            "keywords": ", ".join((category["label"], group, route)), "group": group}


def service_definition(county, code):
    """GET services/{code}: the attributes a request of this service may carry; None: no such service."""
    if code not in county.categories:
        return None
    return {"service_code": code,
            "attributes": [{"variable": True, "order": i, "datatype_description": None, **a}
                           for i, a in enumerate(ATTRIBUTES, start=1)]}


# --- POST requests ---------------------------------------------------------------------------

def registration(form):
    """A POST requests form (as the edge schema loaded it) as a case registration for
    CaseRegistrationSchema: the same checks and rules as POST /cases. Channel online (网上), or
    hotline (12345 工单) with a work order; anonymous when nobody is named. Where and what the
    citizen pointed at (address, coordinates, photo) is kept in the description for the body
    that handles it; e-mail, device and account are not kept (petitioners are told by SMS)."""
    attributes = form["attributes"]
    order = attributes.get("hotline_order_id")
    person = {k: v for k, v in (("name", person_name(form["first_name"], form["last_name"])),
                                ("phone", form["phone"])) if v is not None}
    payload = {"channel": "hotline" if order else "online", "category": form["service_code"],
               "location": form["address_id"], "petitioners": [person] if person else [],
               "anonymous": not person}
    if order:
        payload["hotline"] = {"order_id": order}
    payload["description"] = _with_pointers(form)
    payload["subject"] = attributes.get("subject") or default_subject(form["description"])
    return payload


def person_name(first_name, last_name):
    """A Chinese name family name first, without a space (王 + 某某 = 王某某); others as given.
    None when neither part is given."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if not first and not last:
        return None
    if _CJK.search(first + last):
        return last + first
    return f"{first} {last}".strip()


def default_subject(description):
    """The first sentence of the description, shortened to SUBJECT_LENGTH characters."""
    text = description.strip()
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip() or text
    return first if len(first) <= SUBJECT_LENGTH else first[:SUBJECT_LENGTH - 1] + "…"


def _with_pointers(form):
    lines = [form["description"]]
    if form["address_string"]:
        lines.append(f"地点：{form['address_string']}")
    if form["lat"] is not None and form["long"] is not None:
        lines.append(f"坐标：{form['lat']}, {form['long']}")
    if form["media_url"]:
        lines.append(f"图片：{form['media_url']}")
    return "\n".join(lines)


def form_field(field):
    """The Open311 field an error belongs to: a registration field's (POST /cases), or an
    attribute's (attributes.subject is the form's attribute[subject])."""
    field = FORM_FIELDS.get(field, field)
    return re.sub(r"^attributes\.(.+)$", r"attribute[\1]", field)


def jurisdiction_errors(county, jurisdiction_id):
    """The standard's jurisdiction_id is needed only where an endpoint serves several; this one
    serves the county alone."""
    if jurisdiction_id in (None, county.code):
        return {}
    return {"jurisdiction_id": f"this endpoint serves {county.code} ({county.name}) only"}


def service_notice(result):
    """What the POST answers in service_notice for a registration's outcome."""
    if result["outcome"] == "registered":
        return f"已登记，案件编号 {result['number']}"
    if result["outcome"] == "repeat_linked":
        return f"同一事项已在办理：并入 {result['number']}（重复信访，第 {result['repeat_count']} 次）"
    return f"此前已登记为 {result['number']}"


# --- GET requests ----------------------------------------------------------------------------

def search(county, query, now):
    """The filters of GET requests: service_request_id overrides every other (the standard);
    else the dates span at most SEARCH_DAYS, the last SEARCH_DAYS by default. Invalid by field."""
    if query["service_request_id"] is not None:
        numbers = _listed(query["service_request_id"])
        if not numbers or len(numbers) > MAX_IDS:
            raise Invalid({"service_request_id": f"1 to {MAX_IDS} case numbers, comma separated"})
        return {"numbers": numbers, "codes": None, "since": None, "until": None, "closed": None}
    errors = {}
    since, until = query["start_date"], query["end_date"]
    span = timedelta(days=SEARCH_DAYS)
    if since is None and until is None:
        since, until = now - span, now
    elif since is None:
        since = until - span if until > datetime.min.replace(tzinfo=timezone.utc) + span else None
    elif until is None:
        until = since + span if since < datetime.max.replace(tzinfo=timezone.utc) - span else None
    elif until < since:
        errors["end_date"] = "lies before start_date"
    elif until - since > span:
        errors["end_date"] = f"at most {SEARCH_DAYS} days after start_date"
    statuses = set(_listed(query["status"] or ""))
    if statuses - {"open", "closed"}:
        errors["status"] = "open or closed, or both comma separated"
    codes = _listed(query["service_code"] or "")
    unknown = [c for c in codes if c not in county.categories]
    if unknown:
        errors["service_code"] = f"unknown service {', '.join(unknown)}; see GET services"
    if errors:
        raise Invalid(errors)
    return {"numbers": None, "codes": codes or None, "since": since, "until": until,
            "closed": None if len(statuses) != 1 else statuses == {"closed"}}


def _listed(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def service_request(county, case):
    """A case as GET requests answers it: no petitioner, no personal data. `lifecycle` is the
    case's status as routing last told it (store.LIFECYCLE)."""
    category = county.categories.get(case["category"])
    route = category and county.lawful_routes.get(category["lawful_route"])
    zone = ZoneInfo(county.timezone)
    return {
        "service_request_id": case["number"],
        "status": "closed" if case["lifecycle"] in CLOSED else "open",
        "status_notes": status_notes(case),
        "service_name": category["label"] if category else case["category"],
        "service_code": case["category"],
        "description": case["description"],
        "agency_responsible": case["agency"],
        "service_notice": f"法定途径：{route['label']}" if route else None,
        "requested_datetime": _w3(case["received_at"], zone),
        "updated_datetime": _w3(case["status_at"] or case["registered_at"], zone),
        "expected_datetime": None,  # the deadlines are routing's clocks; intake does not keep them
        "address": place_name(county, case["location"]),
        "address_id": case["location"],
        "zipcode": None,
        "lat": None,   # a place is a node of the county tree; coordinates given are in the description
        "long": None,
        "media_url": None,
    }


def status_notes(case):
    if case["lifecycle"] == "guided":
        return f"已引导至法定途径：{case['guided_to']['label']}"
    return STATUS_NOTES.get(case["lifecycle"])


def place_name(county, code):
    """The county's, township's and village's names: 松河县清水镇柳湾村 (a grid has a code, no
    name); None for a place the county file no longer lists."""
    names = [county.nodes[c].name for c in reversed(county.path_up(code)) if county.nodes[c].level != "grid"]
    return "".join(names) or None


def _w3(moment, zone):
    return moment.astimezone(zone).isoformat(timespec="seconds")


# --- the case's status, from routing's events -------------------------------------------------

def status_change(event):
    """What a routing event says of its case: the status it leaves the case in, at the event's
    time, and for an assignment the body's name. None when it says no status."""
    data = event["data"] or {}
    if not data.get("status") or not data.get("case_id"):
        return None
    return {"case_id": data["case_id"], "status": data["status"], "at": datetime.fromisoformat(event["time"]),
            "agency": data.get("body_name") if event["type"] == "case.assigned" else None}
