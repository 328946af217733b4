"""Deadline arithmetic (start day not counted, holidays, county day boundaries, pauses,
extensions), reminders and overdue notices, event mapping, and the shipped policies."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import yaml

from fengqiao import catalog, deadlines
from fengqiao.config import REPO_ROOT
from fengqiao.deadlines import ConfigError, Policy

SHIPPED = deadlines.load(REPO_ROOT / "deploy" / "county" / "deadlines.yaml")
CAL = SHIPPED.calendar
TZ = CAL.tz
UTC = timezone.utc


def local(*args):
    return datetime(*args, tzinfo=TZ)


def end_of(y, m, d):
    return CAL.end_of_day(date(y, m, d))


# --- due moments --------------------------------------------------------------------------

def test_working_days_across_the_2026_spring_festival():
    five = Policy("p", 5, "working_days")
    assert deadlines.due_at(five, local(2026, 2, 12, 10, 0), CAL) == end_of(2026, 2, 26)
    assert deadlines.due_at(five, local(2026, 2, 12, 10, 0), CAL) == datetime(2026, 2, 26, 16, 0, tzinfo=UTC)


def test_the_start_day_is_not_counted():
    assert deadlines.due_at(Policy("p", 1, "calendar_days"), local(2026, 3, 2, 8, 0), CAL) == end_of(2026, 3, 3)
    # signed for on a Friday: one working day is Monday
    assert deadlines.due_at(SHIPPED.policies["sign"], local(2026, 3, 6, 9, 0), CAL) == end_of(2026, 3, 9)


def test_calendar_days_ending_on_a_holiday_or_weekend_move_to_the_next_working_day():
    fifteen = SHIPPED.policies["acceptance"]
    assert deadlines.due_at(fifteen, local(2026, 3, 5, 9, 0), CAL) == end_of(2026, 3, 20)   # a Friday: stays
    assert deadlines.due_at(fifteen, local(2026, 9, 16, 9, 0), CAL) == end_of(2026, 10, 8)  # Oct 1: National Day
    assert deadlines.due_at(fifteen, local(2026, 3, 7, 9, 0), CAL) == end_of(2026, 3, 23)   # a Sunday → Monday


def test_day_boundaries_are_in_county_time():
    fifteen = SHIPPED.policies["acceptance"]
    late_evening = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)   # 23:30 on Jan 5 in Shanghai
    after_midnight = datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # 00:30 on Jan 6 in Shanghai, still Jan 5 in UTC
    assert deadlines.due_at(fifteen, late_evening, CAL) == end_of(2026, 1, 20)
    assert deadlines.due_at(fifteen, after_midnight, CAL) == end_of(2026, 1, 21)
    assert end_of(2026, 1, 21) == datetime(2026, 1, 21, 16, 0, tzinfo=UTC)


def test_hours_are_plain_elapsed_hours_even_over_a_holiday():
    whistle = SHIPPED.policies["whistle_report"]
    raised = local(2026, 2, 16, 9, 15)  # Spring Festival
    assert deadlines.due_at(whistle, raised, CAL) == raised + timedelta(hours=24)


def test_paused_time_is_credited_exactly():
    handling = SHIPPED.policies["handling"]
    started = local(2026, 3, 2, 10, 0)
    base = deadlines.due_at(handling, started, CAL)
    assert deadlines.due_at(handling, started, CAL, paused_seconds=3 * 86400) == base + timedelta(days=3)
    assert deadlines.due_at(handling, started, CAL, paused_seconds=Decimal("259200.000001")) == \
        base + timedelta(days=3, microseconds=1)


def test_an_extension_adds_days_of_the_same_unit_before_the_holiday_rule():
    handling = SHIPPED.policies["handling"]
    # Jan 5 + 60 + 30 days = Sun Apr 5, inside Qingming (Apr 4–6): the end of Tue Apr 7
    assert deadlines.due_at(handling, local(2026, 1, 5, 9, 0), CAL, extension_days=30) == end_of(2026, 4, 7)
    five = Policy("p", 5, "working_days")
    assert deadlines.due_at(five, local(2026, 2, 12, 9, 0), CAL, extension_days=1) == end_of(2026, 2, 27)


# --- reminders and overdue notices ----------------------------------------------------------

def state(started, due, **kw):
    return {"started_at": started, "due_at": due, "paused_at": None, "paused_seconds": Decimal(0),
            "stopped_at": None, "reminders_sent": [], "overdue_days_sent": -1, **kw}


def record(s, alert):
    """What deadline_store.mark_sent does to the row."""
    if alert.kind == "overdue":
        s["overdue_days_sent"] = alert.key
    else:
        s["reminders_sent"] = s["reminders_sent"] + [k for k in alert.reached if k not in s["reminders_sent"]]


def sweep(policy, s, until, step=timedelta(hours=1)):
    """Sweep every `step` from the start until `until`; (when, kind, key) of each notice."""
    sent, now = [], s["started_at"]
    while now <= until:
        alert = deadlines.pending(policy, s, now)
        if alert is not None:
            record(s, alert)
            sent.append((now, alert.kind, alert.key))
            assert deadlines.pending(policy, s, now) is None  # recorded: not owed again
        now += step
    return sent


def test_thresholds_fire_once_each_in_order_then_overdue_at_the_due_moment_and_daily():
    policy = Policy("p", 10, "calendar_days")
    started = local(2026, 3, 2, 0, 0)
    s = state(started, deadlines.due_at(policy, started, CAL))  # the end of Thu Mar 12: 11 days of time
    assert s["due_at"] == end_of(2026, 3, 12)
    sent = sweep(policy, s, s["due_at"] + timedelta(days=3, hours=2))
    assert [(kind, key) for _, kind, key in sent] == [
        ("due_soon", "50%"), ("due_soon", "80%"), ("due_soon", "1d"),
        ("overdue", 0), ("overdue", 1), ("overdue", 2), ("overdue", 3)]
    moments = [when for when, _, _ in sent]
    # 50% of 11 days: 5 d 12 h; 80%: 8 d 19 h 12 min, seen by the next hourly sweep
    assert moments[:3] == [started + timedelta(days=5, hours=12), started + timedelta(days=8, hours=20),
                           s["due_at"] - timedelta(days=1)]
    assert moments[3:] == [s["due_at"] + timedelta(days=d) for d in range(4)]


def test_a_late_sweep_sends_only_the_latest_reminder_and_the_current_overdue_day():
    policy = Policy("p", 10, "calendar_days")
    started = local(2026, 3, 2, 0, 0)
    s = state(started, end_of(2026, 3, 12))
    alert = deadlines.pending(policy, s, started + timedelta(days=9, hours=6))  # 84% used
    assert (alert.kind, alert.key, alert.reached) == ("due_soon", "80%", ("50%", "80%"))
    record(s, alert)
    assert deadlines.reminders_due(policy, s, started + timedelta(days=9, hours=7)) == []
    alert = deadlines.pending(policy, s, s["due_at"] + timedelta(days=2, hours=5))
    assert (alert.kind, alert.key, alert.first) == ("overdue", 2, True)
    record(s, alert)
    later = deadlines.pending(policy, s, s["due_at"] + timedelta(days=3))
    assert (later.kind, later.key, later.first) == ("overdue", 3, False)


def test_a_paused_clock_stands_still_and_owes_nothing():
    policy = Policy("p", 10, "calendar_days")
    started = local(2026, 3, 2, 0, 0)
    s = state(started, end_of(2026, 3, 12), paused_at=started + timedelta(days=1))
    far = s["due_at"] + timedelta(days=30)
    assert deadlines.pending(policy, s, far) is None
    assert deadlines.share_used(s, far) == pytest.approx(1 / 11)
    assert deadlines.next_alert_at(policy, s) is None
    # resumed after 3 days, credited: the 50% reminder comes 3 days later than it would have
    s.update(paused_at=None, paused_seconds=Decimal(3 * 86400), due_at=s["due_at"] + timedelta(days=3))
    assert deadlines.next_alert_at(policy, s) == started + timedelta(days=3 + 5, hours=12)


def test_a_reminder_outside_a_short_span_is_dropped():
    whistle = SHIPPED.policies["whistle_report"]
    raised = local(2026, 3, 2, 9, 0)
    s = state(raised, deadlines.due_at(whistle, raised, CAL))
    sent = sweep(whistle, s, s["due_at"] + timedelta(hours=1), step=timedelta(minutes=10))
    assert [(kind, key) for _, kind, key in sent] == [("due_soon", "50%"), ("due_soon", "80%"), ("overdue", 0)]


def test_next_alert_follows_what_was_sent():
    policy = Policy("p", 10, "calendar_days")
    started = local(2026, 3, 2, 0, 0)
    s = state(started, end_of(2026, 3, 12))
    assert deadlines.next_alert_at(policy, s) == started + timedelta(days=5, hours=12)
    s.update(reminders_sent=["50%", "80%", "1d"])
    assert deadlines.next_alert_at(policy, s) == s["due_at"]
    s.update(overdue_days_sent=4)
    assert deadlines.next_alert_at(policy, s) == s["due_at"] + timedelta(days=5)
    assert deadlines.next_alert_at(policy, {**s, "stopped_at": s["due_at"]}) is None


# --- events and the shipped file -------------------------------------------------------------

def test_events_map_to_actions_stops_first():
    names = lambda event: [(a, p.name) for a, p in SHIPPED.actions_for(event)]  # noqa: E731
    assert names("case.resolved") == [("stop", "handling"), ("start", "follow_up")]
    assert names("case.suspended") == [("pause", "handling")]
    assert names("case.resumed") == [("resume", "handling")]
    assert names("case.assigned") == [("start", "sign")]
    assert ("stop", "handling") in names("case.closed") and ("stop", "acceptance") in names("case.closed")
    assert names("mediation.paused") == [("pause", "mediation_ordinary"), ("pause", "mediation_complex")]
    assert names("mediation.opened") == []  # ordinary or complex: started by name
    assert names("case.whistle_raised") == []  # started by name, one per whistle
    assert names("nothing.happened") == []


def test_shipped_policies():
    p = SHIPPED.policies
    assert list(p) == ["sign", "acceptance", "handling", "follow_up", "review_decision", "whistle_report",
                       "mediation_ordinary", "mediation_complex", "agreement_performance"]
    terms = {name: (x.duration, x.unit) for name, x in p.items()}
    assert terms == {"sign": (1, "working_days"), "acceptance": (15, "calendar_days"),
                     "handling": (60, "calendar_days"), "follow_up": (7, "calendar_days"),
                     "review_decision": (30, "calendar_days"), "whistle_report": (24, "hours"),
                     "mediation_ordinary": (5, "calendar_days"), "mediation_complex": (15, "calendar_days"),
                     "agreement_performance": (3, "working_days")}
    assert p["handling"].max_extension_days == 30
    assert [x.name for x in p.values() if x.max_extension_days] == ["handling"]
    assert p["sign"].starts_on == ("case.assigned",) and {"case.signed", "case.returned"} <= set(p["sign"].stops_on)
    assert p["acceptance"].starts_on == ("case.registered",)
    assert {"case.accepted", "case.not_accepted"} <= set(p["acceptance"].stops_on)
    assert p["handling"].pauses_on == ("case.suspended",) and p["handling"].resumes_on == ("case.resumed", "case.escalated")
    assert p["review_decision"].starts_on == ("case.review_requested",)
    assert [r.key for r in p["handling"].reminders] == ["50%", "80%", "1d"]
    for name in ("mediation_ordinary", "mediation_complex"):
        assert (p[name].pauses_on, p[name].resumes_on, p[name].stops_on) == (
            ("mediation.paused",), ("mediation.resumed",), ("mediation.concluded",))


def test_every_case_event_the_policies_name_is_in_the_event_catalog():
    known = set(catalog.load())
    named = {t for x in SHIPPED.policies.values() for t in x.starts_on + x.pauses_on + x.resumes_on + x.stops_on}
    assert {t for t in named if t.startswith("case.")} - known == set()  # a typo would never fire


MINIMAL = {"duration": 5, "unit": "calendar_days"}


@pytest.mark.parametrize("spec, message", [
    ({**MINIMAL, "unit": "weeks"},
     "deadlines.yaml: policies.p.unit: 'weeks' is not one of calendar_days, working_days, hours"),
    ({**MINIMAL, "duration": 0}, "deadlines.yaml: policies.p.duration: 0 is not a positive whole number"),
    ({**MINIMAL, "duration": "5"}, "policies.p.duration: '5' is not a positive whole number"),
    ({**MINIMAL, "starts_on": ["case accepted"]},
     "policies.p.starts_on[0]: 'case accepted' is not an event type such as case.accepted"),
    ({**MINIMAL, "starts_on": ["case.x"], "stops_on": ["case.x"]},
     "policies.p.stops_on: case.x is in starts_on already"),
    ({**MINIMAL, "pauses_on": ["case.suspended"]}, "policies.p: pauses_on and resumes_on go together"),
    ({**MINIMAL, "reminders": ["50%", "soon"]}, "policies.p.reminders[1]: 'soon' is not a reminder"),
    ({**MINIMAL, "reminders": ["120%"]}, "policies.p.reminders[0]: '120%' is not a reminder"),
    ({**MINIMAL, "stop_on": ["case.x"]}, "policies.p: unknown keys stop_on"),
    ({**MINIMAL, "max_extension_days": -3}, "policies.p.max_extension_days: -3 is not a positive whole number"),
])
def test_policy_errors_name_file_entry_and_problem(spec, message):
    with pytest.raises(deadlines.ConfigError) as caught:
        deadlines.parse({"policies": {"p": spec}}, "deadlines.yaml")
    assert message in str(caught.value)


def test_reminders_are_configurable():
    parsed = deadlines.parse({"policies": {"p": {**MINIMAL, "reminders": ["90%", "4h"]}}}, "x.yaml")
    reminders = parsed.policies["p"].reminders
    assert [(r.key, r.fraction, r.before) for r in reminders] == [("90%", 0.9, None), ("4h", None, timedelta(hours=4))]


def test_a_file_without_a_policy_the_service_names_is_refused(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "deploy/county/deadlines.yaml").read_text(encoding="utf-8"))
    del raw["policies"]["whistle_report"]
    path = tmp_path / "deadlines.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deadlines\.yaml: policies: missing whistle_report"):
        deadlines.load(path, required=("handling", "whistle_report"))
    assert "handling" in deadlines.load(path, required=("handling",)).policies
