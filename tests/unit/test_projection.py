"""Reporting's fold (services/reporting/projection.py): a case's row from its events, the same
whatever order they arrive in; its deadlines replayed by the deadline engine; hotspots, indicator
figures and the ledger export from counts and rows."""
import io
import random
from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook

from fengqiao import deadlines
from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from services.reporting import exports, hotspots, indicators, projection

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
DEADLINES = deadlines.load(REPO_ROOT / "deploy/county/deadlines.yaml")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
CASE = "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10"


def ev(type, minutes, source="routing", **data):
    return {"id": f"{type}-{minutes}", "type": type, "source": f"/fengqiao/{source}",
            "time": (T0 + timedelta(minutes=minutes)).isoformat(),
            "data": {"case_id": CASE, "number": "QS-2026-000001", "township": "QS", **data}}


HISTORY = [
    ev("case.registered", 0, "intake", location="QS01-G1", category="neighbour_dispute", channel="visit",
       channel_class="civil_dispute", subject="院墙占道", registered_at=T0.isoformat(), petitioner_count=1,
       collective=False),
    ev("case.assigned", 1, body="QS01-MEDIATION", tier="village", status="assigned"),
    ev("notification.sent", 2, "notify", kind="case_assigned"),
    ev("case.signed", 3, status="signed"),
    ev("case.accepted", 4, status="in_progress"),
    ev("case.repeat_linked", 5, "intake", repeat_count=1),
    ev("case.risk_changed", 6, status="in_progress", to="yellow"),
    ev("case.escalated", 7, status="assigned", from_tier="village", to_tier="township"),
    ev("case.assigned", 8, body="QS-JUDICIAL", tier="township", status="assigned"),
    ev("case.signed", 9, status="in_progress"),
    ev("deadline.overdue", 10, policy="handling", days_overdue=0),
    ev("case.resolved", 11, status="resolved", outcome="demand_met"),
    ev("case.followed_up", 12, status="followed_up", rating="basically_satisfied"),
    ev("case.closed", 13, status="closed"),
]


def test_a_case_row_is_the_fold_of_its_events():
    row, _ = projection.fold(CASE, HISTORY, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert (row["number"], row["township"], row["village"], row["location"]) == ("QS-2026-000001", "QS", "QS01",
                                                                                 "QS01-G1")
    assert (row["status"], row["body"], row["tier"], row["escalated_to_county"]) == ("closed", "QS-JUDICIAL", "township",
                                                                                     False)
    assert (row["risk"], row["repeat_count"], row["rating"], row["outcome"]) == ("yellow", 1, "basically_satisfied",
                                                                                 "demand_met")
    # resolved minutes after acceptance: on time, whatever a stray overdue notice said
    assert row["resolution_tier"] == "township" and not row["handling_overdue"] and not row["acceptance_overdue"]
    assert row["accepted_at"] == row["decided_at"] == T0 + timedelta(minutes=4)


def test_the_order_events_arrive_in_does_not_matter():
    expected, _ = projection.fold(CASE, HISTORY, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    rng = random.Random(1)
    for _ in range(50):
        shuffled = rng.sample(HISTORY, len(HISTORY))
        assert projection.fold(CASE, shuffled, DEADLINES.policies, DEADLINES.calendar, COUNTY)[0] == expected


def test_events_of_one_moment_and_a_clock_behind_routing_s_settle_the_same():
    moment = [ev("case.registered", 0, "intake", location="QS01", category="neighbour_dispute", channel="visit",
                 channel_class="civil_dispute", subject="s", registered_at=T0.isoformat()),
              ev("case.assigned", 1, body="QS01-MEDIATION", tier="village", status="assigned"),
              ev("case.escalated", 5, status="assigned", from_tier="village", to_tier="township"),
              ev("case.assigned", 5, body="QS-GOVCENTER", tier="township", status="assigned")]
    moment[3]["id"] = "a-later-id-that-sorts-first"  # one routing transaction: the same time
    for events in (moment, moment[::-1]):
        row, clocks = projection.fold(CASE, events, DEADLINES.policies, DEADLINES.calendar, COUNTY)
        assert (row["body"], row["tier"], row["status"]) == ("QS-GOVCENTER", "township", "assigned")
        assert clocks["sign"]["stopped_at"] is None  # escalated stops the sign clock, the new assignment restarts it
    skewed = [moment[1], {**moment[0], "time": (T0 + timedelta(minutes=1, milliseconds=1)).isoformat()}]
    row, _ = projection.fold(CASE, skewed, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert row["status"] == "assigned"  # intake's clock a little ahead: the registration never sets it back


def test_resolved_within_an_extension_is_on_time_and_a_reopened_case_starts_afresh():
    accepted = HISTORY[:5]
    late = accepted + [ev("deadline.overdue", 60 * 24 * 70, policy="handling", days_overdue=0)]
    row, _ = projection.fold(CASE, late, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert row["handling_overdue"]
    extended = late + [ev("case.extended", 60 * 24 * 71, days=30, status="in_progress"),
                       ev("case.resolved", 60 * 24 * 80, status="resolved", outcome="explained")]
    row, _ = projection.fold(CASE, extended, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert not row["handling_overdue"]  # resolved before the extended due moment
    missed = accepted + [ev("case.resolved", 60 * 24 * 75, status="resolved", outcome="explained")]
    row, _ = projection.fold(CASE, missed, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert row["handling_overdue"]  # 75 days with no extension: late, notice or not
    reopened = missed + [ev("case.reopened", 60 * 24 * 76, status="in_progress")]
    row, _ = projection.fold(CASE, reopened, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert not row["handling_overdue"] and row["resolved_at"] is None


def test_a_late_follow_up_keeps_its_clock_on_a_resolved_case():
    resolved = HISTORY[:12]
    _, clocks = projection.fold(CASE, resolved, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    [follow_up] = projection.running_deadlines(clocks, DEADLINES.calendar, T0 + timedelta(days=30))
    assert follow_up["policy"] == "follow_up" and follow_up["share_used"] > 1  # overdue: shown in /overdue


def test_an_old_registration_without_the_later_fields_still_folds():
    old = {**HISTORY[0], "data": {k: v for k, v in HISTORY[0]["data"].items() if k not in ("petitioner_count", "collective")}}
    row, _ = projection.fold(CASE, [old], DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert row["status"] == "registered" and row["petitioner_count"] is None


def test_a_reopened_case_no_longer_counts_as_resolved():
    row, _ = projection.fold(CASE, HISTORY[:12] + [ev("case.reopened", 20, status="in_progress")],
                             DEADLINES.policies, DEADLINES.calendar, COUNTY)
    assert row["resolved_at"] is None and row["outcome"] is None and row["status"] == "in_progress"


def test_the_clocks_are_the_deadline_engine_s_replayed():
    _, clocks = projection.fold(CASE, HISTORY[:5], DEADLINES.policies, DEADLINES.calendar, COUNTY)
    [handling] = projection.running_deadlines(clocks, DEADLINES.calendar, T0 + timedelta(days=30))
    started = T0 + timedelta(minutes=4)
    assert handling["policy"] == "handling" and handling["due_at"] == deadlines.due_at(
        DEADLINES.policies["handling"], started, DEADLINES.calendar).isoformat()
    extended = HISTORY[:5] + [ev("case.suspended", 60, status="suspended"), ev("case.resumed", 60 * 25, status="in_progress"),
                              ev("case.extended", 60 * 26, status="in_progress", days=10)]
    _, clocks = projection.fold(CASE, extended, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    [later] = projection.running_deadlines(clocks, DEADLINES.calendar, T0 + timedelta(days=30))
    assert later["due_at"] == deadlines.due_at(DEADLINES.policies["handling"], started, DEADLINES.calendar,
                                               paused_seconds=24 * 3600, extension_days=10).isoformat()
    assert projection.next_due_at([later]) == datetime.fromisoformat(later["due_at"])


def test_indicator_figures_and_their_changes():
    cases = {"registered": 10, "guided": 1, "due_for_decision": 8, "decided_on_time": 6, "accepted": 6, "resolved": 4,
             "resolved_on_time": 3, "rated": 4, "satisfied": 3, "repeated": 2, "resolved_first_time": 3,
             "resolved_in_village": 2, "resolved_in_township": 1, "sent_to_county": 1}
    now = indicators.figures({**cases, "agreements": 3, "failures": 1})
    assert now["acceptance_on_time_rate"] == {"value": 0.75, "numerator": 6, "denominator": 8}
    assert now["resolved_in_township_share"]["value"] == 0.75 and now["mediation_success_rate"]["value"] == 0.75
    empty = indicators.figures({k: 0 for k in [*cases, "agreements", "failures"]})
    assert empty["resolution_rate"]["value"] is None  # nothing accepted: no rate, not 0%
    before = indicators.figures({**cases, "registered": 8, "resolved": 3, "agreements": 1, "failures": 1})
    out = indicators.compared(now, before, empty)
    assert out["registered"]["change_vs_previous_period"] == 0.25  # 8 → 10 cases: +25%
    assert out["mediation_success_rate"]["change_vs_previous_period"] == 0.25  # 50% → 75%: +25 points
    assert out["resolution_rate"]["change_vs_same_period_last_year"] is None
    assert set(out) == set(indicators.DEFINITIONS) and out["satisfaction_rate"]["definition"].startswith("满意率")


def test_a_category_that_doubles_is_rising_and_noise_is_not():
    rows = [{"place": "QS01", "level": "village", "category": "land_dispute", "month": m, "n": n}
            for m, n in (("2026-01", 2), ("2026-02", 3), ("2026-03", 2), ("2026-04", 5))]
    rows += [{"place": "QS02", "level": "village", "category": "heating", "month": m, "n": n}
             for m, n in (("2025-04", 2), ("2026-02", 6), ("2026-03", 6), ("2026-01", 6), ("2026-04", 6))]
    rows += [{"place": "QS03", "level": "village", "category": "wage_arrears", "month": "2026-04", "n": 2}]  # 0 → 2: too few
    [heating, land] = hotspots.categories(rows, "2026-04")  # the most cases first
    assert (land["place"], land["count"], land["trailing_average"], land["rising_vs_trailing"]) == ("QS01", 5, 2.33, True)
    assert (heating["rising_vs_trailing"], heating["rising_vs_last_year"], heating["same_month_last_year"]) == (False, True, 2)
    assert hotspots.growth([{"place": "QS01", "level": "village", "month": "2026-04", "n": 4}], "2026-04")[0]["place"] == "QS01"
    assert hotspots.month_shift("2026-01", -1) == "2025-12" and hotspots.month_shift("2025-12", 13) == "2027-01"


def test_the_ledger_opens_with_chinese_headers_and_labels():
    row, _ = projection.fold(CASE, HISTORY, DEADLINES.policies, DEADLINES.calendar, COUNTY)
    csv_bytes = b"".join(exports.as_csv([[row]], COUNTY))
    assert csv_bytes.startswith("\ufeff编号,登记时间,渠道".encode())
    formula = b"".join(exports.as_csv([[row], [{**row, "subject": '=HYPERLINK("http://x")'}]], COUNTY))
    assert formula.decode("utf-8-sig").splitlines()[2].count("\"'=HYPERLINK(") == 1  # a page at a time, kept as text
    sheet = load_workbook(io.BytesIO(exports.as_xlsx([[row]], COUNTY))).active
    header, line = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    cell = dict(zip(header, line))
    assert (cell["编号"], cell["渠道"], cell["办理状态"], cell["群众评价"]) == ("QS-2026-000001", "来访", "已结案", "基本满意")
    assert cell["登记时间"] == "2026-03-02 09:00" and cell["村（社区）"] == COUNTY.nodes["QS01"].name
    assert cell["责任单位"] == COUNTY.bodies["QS-JUDICIAL"].name and cell["事项类别"] == "邻里纠纷"
