"""The working-day calendar: holidays and make-up working days (调休), county day boundaries,
the Monday–Friday fallback, and errors that name the file, the entry and the problem."""
from datetime import date, datetime, timedelta, timezone

import pytest

from fengqiao import calendar, deadlines
from fengqiao.config import REPO_ROOT

SHIPPED = REPO_ROOT / "deploy" / "county" / "deadlines.yaml"
CAL = deadlines.load(SHIPPED).calendar
UTC = timezone.utc


def working_days_between(first, last):
    return [first + timedelta(days=i) for i in range((last - first).days + 1)
            if CAL.is_working_day(first + timedelta(days=i))]


def test_spring_festival_2026_counts_the_make_up_saturday_and_skips_the_holiday():
    # Thu 12 Feb → Fri 13, Sat 14 (调休), 15–23 off, Tue 24, Wed 25, Thu 26
    assert working_days_between(date(2026, 2, 13), date(2026, 2, 26)) == [
        date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24), date(2026, 2, 25), date(2026, 2, 26)]
    assert CAL.add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)
    assert CAL.add_working_days(date(2026, 2, 24), -1) == date(2026, 2, 14)


@pytest.mark.parametrize("day, working", [
    (date(2026, 2, 14), True),    # Saturday, make-up
    (date(2026, 2, 28), True),    # Saturday, make-up
    (date(2026, 2, 16), False),   # Monday, Spring Festival
    (date(2026, 2, 21), False),   # Saturday inside the holiday
    (date(2026, 1, 4), True),     # Sunday, New Year make-up
    (date(2026, 10, 1), False),
    (date(2026, 10, 10), True),   # Saturday, make-up
    (date(2026, 3, 7), False),    # an ordinary Saturday
    (date(2026, 3, 9), True),     # an ordinary Monday
    (date(2025, 1, 26), True),    # Sunday, 2025 Spring Festival make-up
    (date(2025, 10, 8), False),   # 2025 National Day + Mid-Autumn, 8 days
    (date(2025, 5, 5), False),
])
def test_shipped_holidays_and_make_up_days(day, working):
    assert CAL.is_working_day(day) is working


def test_next_working_day_is_the_day_itself_or_the_first_after_it():
    assert CAL.next_working_day(date(2026, 3, 9)) == date(2026, 3, 9)
    assert CAL.next_working_day(date(2026, 2, 15)) == date(2026, 2, 24)
    assert CAL.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)
    assert CAL.next_working_day(date(2026, 10, 3)) == date(2026, 10, 8)  # the make-up is Oct 10, later


def test_unconfigured_years_fall_back_to_monday_to_friday_and_are_reported():
    assert CAL.years == {2025, 2026}
    assert CAL.is_working_day(date(2027, 1, 1))       # a Friday: no holiday known for 2027
    assert not CAL.is_working_day(date(2027, 1, 2))   # Saturday
    assert CAL.missing_years(2026, 2027) == [2027]
    assert CAL.coverage_warnings(date(2026, 6, 1)) == []
    [warning] = CAL.coverage_warnings(date(2026, 12, 3))  # December: next year is due
    assert "2027" in warning
    assert len(CAL.coverage_warnings(date(2028, 12, 3))) == 2


def test_day_boundaries_are_the_county_s_not_utc():
    assert CAL.local_date(datetime(2026, 1, 5, 15, 30, tzinfo=UTC)) == date(2026, 1, 5)   # 23:30 local
    assert CAL.local_date(datetime(2026, 1, 5, 16, 30, tzinfo=UTC)) == date(2026, 1, 6)   # 00:30 local
    assert CAL.end_of_day(date(2026, 1, 5)) == datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    other = calendar.Calendar("Asia/Urumqi")
    assert other.end_of_day(date(2026, 1, 5)) == datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        CAL.local_date(datetime(2026, 1, 5, 12, 0))  # naive: which zone? refuse


def _cal(year_spec, timezone="Asia/Shanghai"):
    return calendar.parse({2026: year_spec}, "deadlines.yaml", timezone)


@pytest.mark.parametrize("spec, message", [
    ({"holidays": ["2026-01-01", "2026-02-15..2026-02-23", "2026-04-04", "2025-02-30"]},
     "deadlines.yaml: calendar.2026.holidays[3]: 2025-02-30 is not a date"),
    ({"holidays": ["2025-12-31"]}, "calendar.2026.holidays[0]: 2025-12-31 is not in 2026"),
    ({"holidays": ["2026-02-23..2026-02-15"]}, "calendar.2026.holidays[0]: range 2026-02-23..2026-02-15 ends before"),
    ({"holidays": ["2026-02-15..2026-02-23", "2026-02-20"]},
     "calendar.2026.holidays[1]: 2026-02-20 is listed twice (also at calendar.2026.holidays[0])"),
    ({"make_up_workdays": ["2026-02-13"]},
     "calendar.2026.make_up_workdays[0]: 2026-02-13 is a Friday; a make-up working day is a Saturday or Sunday"),
    ({"holidays": ["2026-02-14"], "make_up_workdays": ["2026-02-14"]},
     "calendar.2026.make_up_workdays[0]: 2026-02-14 is also listed as a holiday"),
    ({"holiday": ["2026-01-01"]}, "calendar.2026: unknown keys holiday"),
    ({"holidays": "2026-01-01"}, "calendar.2026.holidays: expected a list"),
    ({"holidays": ["26-1-1"]}, "calendar.2026.holidays[0]: 26-1-1 is not a date"),
])
def test_calendar_errors_name_file_entry_and_problem(spec, message):
    with pytest.raises(calendar.ConfigError) as caught:
        _cal(spec)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_calendar_errors_on_years_and_time_zone():
    with pytest.raises(calendar.ConfigError, match=r"deadlines.yaml: calendar.next: expected a year"):
        calendar.parse({"next": {}}, "deadlines.yaml")
    with pytest.raises(calendar.ConfigError, match=r"deadlines.yaml: timezone: unknown time zone 'Mars/Olympus'"):
        _cal({}, "Mars/Olympus")


def test_a_wrong_date_in_the_file_is_reported_with_its_entry_not_as_a_yaml_crash(tmp_path):
    text = SHIPPED.read_text(encoding="utf-8").replace("      - 2026-04-04..2026-04-06", "      - 2025-02-30", 1)
    bad = tmp_path / "deadlines.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(deadlines.ConfigError) as caught:
        deadlines.load(bad)
    assert str(caught.value) == f"{bad}: calendar.2026.holidays[2]: 2025-02-30 is not a date (YYYY-MM-DD)"


def test_a_month_runs_from_county_midnight_to_county_midnight():
    cal = calendar.Calendar("Asia/Shanghai")
    start, end = cal.month_bounds(2026, 12)
    assert start == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)   # 1 December 00:00 in Beijing
    assert end == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)     # 1 January 2027
    assert start <= datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc) < end  # already December there
