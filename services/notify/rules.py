"""The notify file (deploy/county/notify.yaml) and its message templates: which event tells whom,
by which channel, in which words. Loaded and checked whole — a mistake names the file, the entry
and the problem —, so that a running service only ever swaps a good file for a good file. Pure:
no framework, no SQL, no network."""
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import jinja2
import yaml

from fengqiao import catalog
from fengqiao.calendar import ConfigError, chinese_date

CHANNELS = ("inbox", "email", "sms", "webhook")
RECIPIENTS = ("lead_body", "named_bodies", "handlers", "mediators", "supervisor", "township_leader", "township_leaders",
              "responsible", "petitioner")
CONDITIONS = ("status", "to", "policy", "outcome", "min_days_overdue")
# The names templates may call (domain.template_helpers gives them); stand-ins check templates at load.
HELPERS = ("category", "body_name", "policy", "colour", "subject_of", "place")
# What the monthly digest's template is given (reporting's hotspots for one township and month).
DIGEST_EXAMPLE = {"township": "QS", "township_name": "清水镇", "month": "2026-11", "overdue_cases": 2, "open_red_cases": 1,
                  "rising_categories": [{"place": "QS01", "category": "land_dispute", "count": 5,
                                         "trailing_average": 1.67, "same_month_last_year": 1}],
                  "repeat_petitions_growing": [{"place": "QS02", "count": 4, "trailing_average": 1.0}],
                  "clusters_growing": []}
CHANNEL_SETTINGS = {"email": ("host", "port", "sender"), "sms": ("url", "key_env")}
_EVENT = re.compile(r"^[a-z_]+\.[a-z_]+$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class Trigger:
    key: str       # "<event>:<message>": part of each message's identity, stable when the file is reordered
    event: str
    message: str
    to: tuple
    by: tuple
    when: dict = field(default_factory=dict)

    def applies(self, data):
        """Do the event's data meet the trigger's conditions?"""
        for name, wanted in self.when.items():
            if name == "min_days_overdue":
                if (data.get("days_overdue") or 0) < wanted:
                    return False
            elif data.get(name) not in wanted:
                return False
        return True


@dataclass(frozen=True)
class NotifyRules:
    triggers: tuple
    templates: jinja2.Environment
    quiet_from: time
    quiet_to: time
    attempts: int
    backoff_seconds: int
    max_backoff_seconds: int
    sms_signature: str = ""
    email: dict = field(default_factory=dict)
    sms: dict = field(default_factory=dict)
    webhooks: dict = field(default_factory=dict)
    digest: Trigger | None = None  # the monthly early-warning digest (未诉先办 预警提示), per township

    def triggers_for(self, event_type, data):
        return [t for t in self.triggers if t.event == event_type and t.applies(data)]


def load(path, examples=None):
    """The notify file at `path`, its templates in messages/ beside it. `examples` ({event type:
    data}, by default the event catalog's) are what each trigger's template must render."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if examples is None:
        examples = {t: e["example"] for t, e in catalog.load().items()}
    return parse(raw, str(path), path.parent / "messages", examples)


def parse(raw, where, messages_dir, examples):
    def fail(entry, problem):
        raise ConfigError(f"{where}: {entry}: {problem}")

    if not isinstance(raw, dict) or not isinstance(raw.get("triggers"), list):
        fail("top level", "expected a mapping with 'triggers' (a list)")
    unknown = set(raw) - {"sms_signature", "quiet_hours", "delivery", "channels", "webhooks", "triggers", "digest"}
    if unknown:
        fail("top level", f"unknown keys {', '.join(sorted(map(str, unknown)))}")
    quiet = raw.get("quiet_hours") or {"from": "21:00", "to": "08:00"}
    quiet_from, quiet_to = (_clock(quiet.get(k), f"quiet_hours.{k}", fail) for k in ("from", "to"))
    delivery = raw.get("delivery") or {}
    numbers = {k: delivery.get(k, default) for k, default in
               (("attempts", 5), ("backoff_seconds", 30), ("max_backoff_seconds", 3600))}
    for k, v in numbers.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            fail(f"delivery.{k}", f"{v!r} is not a positive whole number")
    channels = raw.get("channels") or {}
    webhooks = raw.get("webhooks") or {}
    for name, hook in webhooks.items():
        if not isinstance(hook, dict) or not str(hook.get("url", "")).startswith(("http://", "https://")) \
                or not hook.get("secret_env"):
            fail(f"webhooks.{name}", "needs a 'url' (http or https) and a 'secret_env'")
    templates = _templates(messages_dir, fail)
    triggers = tuple(_trigger(t, f"triggers[{i}]", templates, webhooks, fail) for i, t in enumerate(raw["triggers"]))
    for channel, needed in CHANNEL_SETTINGS.items():
        missing = [k for k in needed if not (channels.get(channel) or {}).get(k)]
        if missing and any(channel in t.by for t in triggers):
            fail(f"channels.{channel}", f"a trigger sends by {channel}: it needs {', '.join(missing)}")
    for i, t in enumerate(triggers):
        _renders(templates, t, examples.get(t.event), f"triggers[{i}].message", fail)
    digest = None
    if raw.get("digest") is not None:
        digest = _trigger({**raw["digest"], "event": "digest.monthly"}, "digest", templates, webhooks, fail)
        _renders(templates, digest, DIGEST_EXAMPLE, "digest.message", fail)
    return NotifyRules(triggers, templates, quiet_from, quiet_to, numbers["attempts"], numbers["backoff_seconds"],
                       numbers["max_backoff_seconds"], str(raw.get("sms_signature") or ""),
                       dict(channels.get("email") or {}), dict(channels.get("sms") or {}), dict(webhooks), digest)


def _clock(text, entry, fail):
    m = _CLOCK.match(str(text or ""))
    if not m:
        fail(entry, f"{text!r} is not a time of day such as '21:00'")
    return time(int(m.group(1)), int(m.group(2)))


def _templates(messages_dir, fail):
    """Every messages/<name>.txt, compiled; a template that does not parse is refused here."""
    sources = {}
    for path in sorted(Path(messages_dir).glob("*.txt")):
        sources[path.stem] = path.read_text(encoding="utf-8")
    env = jinja2.Environment(loader=jinja2.DictLoader(sources), autoescape=False, keep_trailing_newline=False,
                             undefined=jinja2.StrictUndefined)  # a missing field is an error, not a blank
    env.filters["chinese_date"] = chinese_date
    for name in sources:
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            fail(f"messages/{name}.txt line {exc.lineno}", exc.message)
    return env


def _trigger(t, entry, templates, webhooks, fail):
    if not isinstance(t, dict):
        fail(entry, "expected a mapping with event, message, to and by")
    unknown = set(t) - {"event", "when", "message", "to", "by"}
    if unknown:
        fail(entry, f"unknown keys {', '.join(sorted(map(str, unknown)))}")
    if not isinstance(t.get("event"), str) or not _EVENT.match(t["event"]):
        fail(f"{entry}.event", f"{t.get('event')!r} is not an event type such as case.assigned")
    if t.get("message") not in templates.list_templates():
        fail(f"{entry}.message", f"no template messages/{t.get('message')}.txt")
    to = t.get("to")
    if not isinstance(to, list) or not to:
        fail(f"{entry}.to", "expected a list of recipients")
    for r in to:
        name = str(r)
        if name.startswith("webhook:") and name.split(":", 1)[1] not in webhooks:
            fail(f"{entry}.to", f"no webhook named {name.split(':', 1)[1]!r} under webhooks")
        if not name.startswith("webhook:") and name not in RECIPIENTS:
            fail(f"{entry}.to", f"unknown recipient {name!r}; known: {', '.join(RECIPIENTS)}, webhook:<name>")
    by = t.get("by") or (["webhook"] if all(str(r).startswith("webhook:") for r in to) else None)
    if not isinstance(by, list) or not by or set(by) - set(CHANNELS):
        fail(f"{entry}.by", f"expected a list of channels among {', '.join(CHANNELS)}")
    when = t.get("when") or {}
    if not isinstance(when, dict) or set(when) - set(CONDITIONS):
        fail(f"{entry}.when", f"conditions are among {', '.join(CONDITIONS)}")
    for name, wanted in when.items():
        if name == "min_days_overdue":
            if not isinstance(wanted, int) or wanted < 0:
                fail(f"{entry}.when.min_days_overdue", "expected a whole number ≥ 0")
        elif not isinstance(wanted, list) or not wanted:
            fail(f"{entry}.when.{name}", "expected a non-empty list")
    return Trigger(f"{t['event']}:{t['message']}", t["event"], t["message"], tuple(map(str, to)), tuple(by), dict(when))


def _renders(templates, trigger, example, entry, fail):
    """The trigger's template renders the catalog's example of its event (a field that events
    of this type do not carry is caught here, not when a real event arrives)."""
    if example is None:
        return
    stand_ins = {name: (lambda *args: "…") for name in HELPERS}
    try:
        templates.get_template(trigger.message).render(data=example, event={"type": trigger.event, "data": example},
                                                        recipient="某某", **stand_ins)
    except jinja2.TemplateError as exc:
        fail(entry, f"messages/{trigger.message}.txt does not render for a {trigger.event} event: {exc}")
