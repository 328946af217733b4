"""What to tell whom (通知, SPEC 1.8): an event, through the triggers of the notify file, becomes
messages — one per trigger, recipient and channel, each with an identity that makes a second
copy impossible however often the event arrives —, written in Chinese from the templates, held
through quiet hours for petitioners, retried with backoff. Pure: no framework, no SQL, no
network; the county gives the people, the rules the words."""
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jinja2

from fengqiao.access import DISCIPLINE
from fengqiao.county import TOWNSHIP_DUTIES

DEADLINE_EVENTS = ("deadline.due_soon", "deadline.overdue")
RISK_LABELS = {"blue": "蓝色", "yellow": "黄色", "red": "红色"}


@dataclass(frozen=True)
class Recipient:
    kind: str  # staff, body, petitioner or webhook
    id: str    # staff id, body code, "petitioner" or the webhook's name — never a contact
    name: str

    def reachable_by(self, channel, county):
        """Can this recipient get a message by `channel`? (Staff need a phone or an address.)"""
        if self.kind == "staff":
            person = county.person(self.id)
            return channel == "inbox" or (channel == "sms" and bool(person.phone)) or \
                (channel == "email" and bool(person.email))
        return {"body": "inbox", "petitioner": "sms", "webhook": "webhook"}[self.kind] == channel


# --- recipients ---------------------------------------------------------------------------------

def _staff(county, ids):
    return [Recipient("staff", p.id, p.name) for i in ids if (p := county.person(i)) is not None]


def _body_and_handlers(county, code):
    body = county.bodies.get(code)
    if body is None:
        return []
    return [Recipient("body", code, body.name)] + _staff(county, [s.id for s in county.staff_of(code, "handler")])


# Who hears of a case beyond the body that has it: a discipline report's body (纪委) keeps its
# own line of escalation — the leaders of the place may be the ones it reports on.
BEYOND_THE_BODY = ("supervisor", "township_leader", "township_leaders", "responsible")


def recipients(county, spec, data):
    """Who `spec` (a recipient name of the notify file) means for an event's data."""
    context = data.get("context") or {}
    township = data.get("township")
    body = county.bodies.get(context.get("body") or data.get("body") or "")
    if spec in BEYOND_THE_BODY and body is not None and DISCIPLINE in body.channel_classes:
        return []
    if spec == "lead_body":
        return _body_and_handlers(county, data.get("body"))
    if spec == "named_bodies":
        return [r for code in data.get("bodies") or [] for r in _body_and_handlers(county, code)]
    if spec == "handlers":  # of a deadline's case, or a mediation file's mediators
        if context.get("mediators"):
            return _staff(county, context["mediators"])
        return _staff(county, [s.id for s in county.staff_of(body.code, "handler")]) if body else []
    if spec == "mediators":
        return _staff(county, data.get("mediators") or context.get("mediators") or [])
    if spec == "supervisor":
        found = county.staff_with("supervisor", township) if township in county.nodes else []
        return _staff(county, [s.id for s in found if s.scope == found[0].scope]) if found else []
    if spec == "township_leader":
        leader = county.leader_with_duty("township_head", township) if township in county.nodes else None
        return _staff(county, [leader.id]) if leader else []
    if spec == "township_leaders":
        found = [county.leader_with_duty(d, township) for d in TOWNSHIP_DUTIES] if township in county.nodes else []
        return _staff(county, [p.id for p in found if p])
    if spec == "responsible":
        named = data.get("responsible") or {}
        ids = [(named.get("leader") or {}).get("id")]
        if data.get("to") == "red":
            ids.append((named.get("county") or {}).get("id"))
        return _staff(county, [i for i in ids if i])
    if spec == "petitioner":
        return [Recipient("petitioner", "petitioner", "信访人")]
    if spec.startswith("webhook:"):
        name = spec.split(":", 1)[1]
        return [Recipient("webhook", name, name)]
    raise ValueError(f"unknown recipient {spec!r}")


# --- messages -----------------------------------------------------------------------------------

def dedup_basis(event):
    """What makes two events one occasion: a deadline's notice is one per deadline and threshold,
    or per due moment and overdue day (an extended deadline missed again is a new occasion); any
    other event is itself."""
    data = event["data"]
    if event["type"] == "deadline.due_soon":
        return f"{data['deadline_id']}:{data.get('threshold')}"
    if event["type"] == "deadline.overdue":
        return f"{data['deadline_id']}:{data.get('due_at')}:overdue+{data.get('days_overdue')}"
    return event["id"]


def messages(rules, county, helpers, event, now, tz):
    """The messages an event causes: [{id, dedup_key, kind, channel, recipient, recipient_kind,
    subject, text, not_before, case_id, number, event_id, correlationid, error}]. Rendering is
    done here, once; a petitioner's contact is never part of it. A message whose template fails
    on this event carries the `error` instead of words (it is recorded as failed, not lost)."""
    data = event["data"]
    found = []
    for trigger in rules.triggers_for(event["type"], data):
        for spec in trigger.to:
            for who in recipients(county, spec, data):
                for channel in trigger.by:
                    if not who.reachable_by(channel, county):
                        continue
                    try:
                        subject, text, error = *render(rules, trigger.message, helpers, event, who, channel), None
                    except jinja2.TemplateError as exc:
                        subject, text, error = None, "", f"template {trigger.message}: {type(exc).__name__}: {exc}"
                    found.append({
                        "id": uuid.uuid4(), "dedup_key": f"{trigger.key}|{dedup_basis(event)}|{who.kind}:{who.id}|{channel}",
                        "kind": trigger.message, "channel": channel, "recipient": who.id, "recipient_kind": who.kind,
                        "subject": subject, "text": text, "case_id": data.get("case_id"), "number": data.get("number"),
                        "event_id": event["id"], "correlationid": event.get("correlationid"),
                        "not_before": held_until(rules, now, tz) if who.kind == "petitioner" else now,
                        "error": error,
                    })
    return _unique(found)


def digest_month(today):
    """The month a digest made today is about: the one before."""
    first = today.replace(day=1)
    last_month = first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1)
    return last_month.strftime("%Y-%m")


def digest_messages(rules, county, helpers, township, month, hotspots, now):
    """The monthly digest of one township, to its leaders: one message each per channel, its
    identity the township and month (so a second dispatcher or a restart makes no second one)."""
    digest = rules.digest
    data = {**hotspots, "township": township, "township_name": county.nodes[township].name, "month": month}
    event = {"id": f"digest:{township}:{month}", "type": "digest.monthly", "data": data}
    found = []
    for spec in digest.to:
        for who in recipients(county, spec, data):
            for channel in digest.by:
                if who.reachable_by(channel, county):
                    subject, text = render(rules, digest.message, helpers, event, who, channel)
                    found.append({"id": uuid.uuid4(), "dedup_key": f"digest|{township}|{month}|{who.kind}:{who.id}|{channel}",
                                  "kind": digest.message, "channel": channel, "recipient": who.id,
                                  "recipient_kind": who.kind, "subject": subject, "text": text, "case_id": None,
                                  "number": None, "event_id": None, "correlationid": None, "not_before": now,
                                  "error": None})
    return _unique(found)


def _unique(found):
    """One message per identity, even when two triggers or two recipient names reach one person."""
    seen, kept = set(), []
    for m in found:
        if m["dedup_key"] not in seen and (m["kind"], m["channel"], m["recipient"]) not in seen:
            seen |= {m["dedup_key"], (m["kind"], m["channel"], m["recipient"])}
            kept.append(m)
    return kept


def render(rules, message, helpers, event, who, channel):
    """(subject, text) of a message: the template's first line is the subject, the rest the
    text; an SMS carries the county's signature first (as providers require)."""
    rendered = rules.templates.get_template(message).render(
        data=event["data"], event=event, recipient=who.name, **helpers).strip()
    subject, _, text = rendered.partition("\n")
    text = text.strip() or subject
    if channel == "sms":
        text = f"{rules.sms_signature}{text}"
    return subject.strip(), text


def template_helpers(county, deadlines):
    """Names the templates may use: labels for codes, dates in Chinese."""
    policies = deadlines.policies if deadlines else {}

    def subject_of(data):
        context = data.get("context") or {}
        if context.get("file_number"):
            return f"调解卷宗 {context['file_number']}（案件 {data.get('number')}）"
        return f"案件 {data.get('number')}"

    return {
        "category": lambda code: (county.categories.get(code) or {}).get("label", code or ""),
        "body_name": lambda code: county.bodies[code].name if code in county.bodies else (code or ""),
        "policy": lambda name: getattr(policies.get(name), "label", "") or name,
        "colour": lambda level: RISK_LABELS.get(level, level),
        "subject_of": subject_of,
        "place": lambda code: county.nodes[code].name if code in county.nodes else (code or ""),
    }


# --- when a message may go, and again ------------------------------------------------------------

def in_quiet_hours(rules, local):
    t = local.time()
    if rules.quiet_from <= rules.quiet_to:
        return rules.quiet_from <= t < rules.quiet_to
    return t >= rules.quiet_from or t < rules.quiet_to  # the night: 21:00–08:00 wraps midnight


def held_until(rules, now, tz):
    """The first moment a petitioner may be sent an SMS: now, or the end of the quiet hours."""
    local = now.astimezone(tz)
    if not in_quiet_hours(rules, local):
        return now
    end = local.replace(hour=rules.quiet_to.hour, minute=rules.quiet_to.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end


def retry_at(rules, attempts, now):
    """After the n-th failed attempt: the next one (exponential backoff), or None — give up."""
    if attempts >= rules.attempts:
        return None
    return now + timedelta(seconds=min(rules.backoff_seconds * 2 ** (attempts - 1), rules.max_backoff_seconds))


def outcome_event(message, reason=None):
    """The data of notification.sent / notification.failed: who and how, never an address."""
    data = {"notification_id": str(message["id"]), "case_id": message["case_id"] and str(message["case_id"]),
            "number": message["number"], "kind": message["kind"], "channel": message["channel"],
            "recipient": message["recipient"], "attempts": message["attempts"]}
    if reason is not None:
        data["reason"] = reason
    return data
