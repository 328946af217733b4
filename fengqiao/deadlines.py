"""Deadline policies and the arithmetic of time limits (SPEC 1.7, 1.8). Pure: no framework, no
SQL; deadline_store.py keeps the state in the database.

How a due moment is computed (Chinese administrative practice):
- the start day is not counted;
- N calendar days end at 24:00 county time of the N-th day after the start day; if that day is
  not a working day (public holiday or weekend) the deadline moves to the end of the next
  working day;
- N working days end at 24:00 of the N-th working day after the start day;
- hours are plain elapsed hours;
- an extension adds days of the same unit to N; paused time is then credited back exactly.

A deadline's state is a mapping with the columns of the `deadlines` table: started_at, due_at,
paused_at, paused_seconds, stopped_at, reminders_sent, overdue_days_sent."""
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from fengqiao import calendar as calendar_module
from fengqiao.calendar import DEFAULT_TIMEZONE, ConfigError

log = logging.getLogger(__name__)

UNITS = ("calendar_days", "working_days", "hours")
ACTIONS = ("stop", "pause", "resume", "start")  # the order apply_event acts in
DAY = timedelta(days=1)
_EVENT = re.compile(r"^[a-z_]+\.[a-z_]+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Reminder:
    """A threshold: a share of the span ("80%") or a time before the due moment ("1d", "4h")."""
    key: str
    fraction: float | None = None
    before: timedelta | None = None

    def offset(self, total):
        """When it fires, as running time since the start; None if it falls outside the span."""
        at = total * self.fraction if self.fraction is not None else total - self.before
        return at if timedelta(0) < at < total else None


def reminder(key):
    """A Reminder from its key; ValueError when the key is neither "NN%" nor "Nd" / "Nh"."""
    text = str(key).strip()
    if m := re.fullmatch(r"([0-9]{1,2})%", text):
        if 0 < int(m.group(1)) < 100:
            return Reminder(text, fraction=int(m.group(1)) / 100)
    elif m := re.fullmatch(r"([1-9][0-9]*)([dh])", text):
        n = int(m.group(1))
        return Reminder(text, before=timedelta(days=n) if m.group(2) == "d" else timedelta(hours=n))
    raise ValueError(f"{text!r} is not a reminder: use a share such as '80%' or a time before the due "
                     f"moment such as '1d' or '4h'")


DEFAULT_REMINDERS = tuple(reminder(k) for k in ("50%", "80%", "1d"))


@dataclass(frozen=True)
class Policy:
    name: str
    duration: int
    unit: str  # one of UNITS
    label: str = ""
    reminders: tuple = DEFAULT_REMINDERS
    starts_on: tuple = ()
    pauses_on: tuple = ()
    resumes_on: tuple = ()
    stops_on: tuple = ()
    max_extension_days: int | None = None  # None: no extension allowed

    def action_on(self, event_type):
        """What `event_type` does to this policy: start, pause, resume, stop, or None."""
        for action, events in (("stop", self.stops_on), ("pause", self.pauses_on),
                               ("resume", self.resumes_on), ("start", self.starts_on)):
            if event_type in events:
                return action
        return None


@dataclass(frozen=True)
class Deadlines:
    """The deadlines file: one calendar and the policies by name."""
    calendar: calendar_module.Calendar
    policies: dict = field(default_factory=dict)

    def actions_for(self, event_type):
        return actions_for(self.policies, event_type)


def actions_for(policies, event_type):
    """[(action, Policy)] an event causes: stops, then pauses, resumes and starts; file order within."""
    found = [(p.action_on(event_type), p) for p in policies.values()]
    return sorted([(a, p) for a, p in found if a], key=lambda ap: ACTIONS.index(ap[0]))


# --- due moments ------------------------------------------------------------------------

def to_timedelta(seconds):
    """Seconds (int, float, Decimal) or a timedelta, exact to the microsecond."""
    if isinstance(seconds, timedelta):
        return seconds
    return timedelta(microseconds=int((Decimal(str(seconds)) * 1_000_000).to_integral_value()))


def due_at(policy, started_at, calendar, paused_seconds=0, extension_days=0):
    """The due moment (aware) of a deadline started at `started_at` (aware)."""
    n = policy.duration + extension_days
    if policy.unit == "hours":
        base = started_at + timedelta(hours=policy.duration) + extension_days * DAY
    else:
        start_day = calendar.local_date(started_at)
        if policy.unit == "working_days":
            last = calendar.add_working_days(start_day, n)
        elif policy.unit == "calendar_days":
            last = calendar.next_working_day(start_day + timedelta(days=n))
        else:
            raise ValueError(f"unknown unit {policy.unit!r}")
        base = calendar.end_of_day(last)
    return base + to_timedelta(paused_seconds)


def span(state):
    """The running time a deadline allows (paused time excluded)."""
    return state["due_at"] - state["started_at"] - to_timedelta(state["paused_seconds"])


def elapsed(state, now):
    """Running time used so far: a paused clock stands still."""
    until = state["paused_at"] or now
    return until - state["started_at"] - to_timedelta(state["paused_seconds"])


def share_used(state, now):
    """0 at the start, 1 at the due moment, over 1 when overdue."""
    return elapsed(state, now) / span(state)


# --- reminders and overdue notices -------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    """What a deadline owes now: a reminder ("due_soon", key "80%") or an overdue notice
    ("overdue", key = days overdue). `reached` are the reminder keys to record as done (the
    latest one is sent; earlier ones missed while the sweep was down are not sent late)."""
    kind: str
    key: object
    reached: tuple = ()
    first: bool = False  # the first overdue notice of this due moment


def _thresholds(policy, total):
    """[(offset, key)] of the policy's reminders inside the span, earliest first."""
    found = [(r.offset(total), r.key) for r in policy.reminders]
    return sorted((o, k) for o, k in found if o is not None)


def reminders_due(policy, state, now):
    """Keys of reminders reached and not sent yet, earliest first; none once overdue."""
    used, total = elapsed(state, now), span(state)
    if state["stopped_at"] is not None or used >= total:
        return []
    sent = set(state["reminders_sent"] or ())
    return [k for o, k in _thresholds(policy, total) if o <= used and k not in sent]


def overdue_due(state, now):
    """The overdue day (0 from the due moment, 1 a day later, ...) if not noticed yet, else None."""
    used, total = elapsed(state, now), span(state)
    if state["stopped_at"] is not None or used < total:
        return None
    day = (used - total) // DAY
    return day if day > state["overdue_days_sent"] else None


def pending(policy, state, now):
    """The one Alert a deadline owes at `now`, or None. Overdue wins over reminders; of several
    reminders reached at once only the latest is sent."""
    day = overdue_due(state, now)
    if day is not None:
        return Alert("overdue", day, first=state["overdue_days_sent"] < 0)
    reached = reminders_due(policy, state, now)
    return Alert("due_soon", reached[-1], tuple(reached)) if reached else None


def next_alert_at(policy, state):
    """The moment the next reminder or overdue notice falls due; None when stopped or paused."""
    if state["stopped_at"] is not None or state["paused_at"] is not None:
        return None
    total, sent = span(state), set(state["reminders_sent"] or ())
    offsets = [total + (state["overdue_days_sent"] + 1) * DAY]
    if state["overdue_days_sent"] < 0:
        offsets += [o for o, k in _thresholds(policy, total) if k not in sent]
    return state["started_at"] + to_timedelta(state["paused_seconds"]) + min(offsets)


# --- the deadlines file ------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """Dates stay strings, so that a wrong one ("2025-02-30") is reported with its entry."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load(path, timezone=DEFAULT_TIMEZONE, required=()):
    """Deadlines from a YAML file; ConfigError naming the file, the entry and the problem, also
    when a policy the service names (`required`) is missing. Logs a warning when the calendar
    does not configure this year (or, in December, the next)."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    found = parse(raw, str(path), timezone, required)
    for warning in found.calendar.coverage_warnings(datetime.now(found.calendar.tz).date()):
        log.warning("%s: %s", path, warning)
    return found


def parse(raw, where, timezone=DEFAULT_TIMEZONE, required=()):
    def fail(entry, problem):
        raise ConfigError(f"{where}: {entry}: {problem}")

    if not isinstance(raw, dict) or "policies" not in raw:
        fail("top level", "expected a mapping with 'calendar' and 'policies'")
    unknown = set(raw) - {"calendar", "policies"}
    if unknown:
        fail("top level", f"unknown keys {', '.join(sorted(map(str, unknown)))}")
    cal = calendar_module.parse(raw.get("calendar"), where, timezone)
    if not isinstance(raw["policies"], dict) or not raw["policies"]:
        fail("policies", "expected a mapping of policy names to policies")
    policies = {}
    for name, spec in raw["policies"].items():
        policies[name] = _policy(name, spec, f"policies.{name}", fail)
    missing = [name for name in required if name not in policies]
    if missing:
        fail("policies", f"missing {', '.join(missing)}: the service starts and stops these by name")
    return Deadlines(cal, policies)


_POLICY_KEYS = {"label", "duration", "unit", "reminders", "starts_on", "pauses_on", "resumes_on", "stops_on",
                "max_extension_days"}


def _policy(name, spec, entry, fail):
    if not isinstance(name, str) or not _NAME.match(name):
        fail(entry, "a policy name is lower-case letters, digits and _")
    if not isinstance(spec, dict):
        fail(entry, "expected a mapping with duration, unit and events")
    unknown = set(spec) - _POLICY_KEYS
    if unknown:
        fail(entry, f"unknown keys {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(_POLICY_KEYS))}")
    duration = spec.get("duration")
    if not _positive_int(duration):
        fail(f"{entry}.duration", f"{duration!r} is not a positive whole number")
    if spec.get("unit") not in UNITS:
        fail(f"{entry}.unit", f"{spec.get('unit')!r} is not one of {', '.join(UNITS)}")
    events = {key: _events(spec.get(key), f"{entry}.{key}", fail)
              for key in ("starts_on", "pauses_on", "resumes_on", "stops_on")}
    seen = {}
    for key, types in events.items():
        for t in types:
            if t in seen:
                fail(f"{entry}.{key}", f"{t} is in {seen[t]} already; an event does one thing to a policy")
            seen[t] = key
    if bool(events["pauses_on"]) != bool(events["resumes_on"]):
        fail(entry, "pauses_on and resumes_on go together: a paused clock must be able to resume")
    max_ext = spec.get("max_extension_days")
    if max_ext is not None and (not _positive_int(max_ext)):
        fail(f"{entry}.max_extension_days", f"{max_ext!r} is not a positive whole number")
    return Policy(name=name, duration=duration, unit=spec["unit"], label=str(spec.get("label") or ""),
                  reminders=_reminders(spec.get("reminders"), f"{entry}.reminders", fail),
                  max_extension_days=max_ext, **events)


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _events(items, entry, fail):
    if items is None:
        return ()
    if not isinstance(items, list):
        fail(entry, "expected a list of event types")
    for i, t in enumerate(items):
        if not isinstance(t, str) or not _EVENT.match(t):
            fail(f"{entry}[{i}]", f"{t!r} is not an event type such as case.accepted")
    if len(set(items)) != len(items):
        fail(entry, "an event type is listed twice")
    return tuple(items)


def _reminders(items, entry, fail):
    if items is None:
        return DEFAULT_REMINDERS
    if not isinstance(items, list):
        fail(entry, "expected a list such as ['50%', '80%', '1d']")
    found = []
    for i, key in enumerate(items):
        try:
            found.append(reminder(key))
        except ValueError as exc:
            fail(f"{entry}[{i}]", str(exc))
    if len({r.key for r in found}) != len(found):
        fail(entry, "a reminder is listed twice")
    return tuple(found)
