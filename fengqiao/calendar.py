"""The county's working-day calendar: public holidays and make-up working days (调休) per year,
day boundaries in the county time zone. Pure: no framework, no SQL.

A year the file does not configure falls back to Monday–Friday; `missing_years` says which
years those are, so that a service can warn before a new year starts unconfigured."""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"
_RANGE = re.compile(r"^\s*(\S+)\s*\.\.\s*(\S+)\s*$")  # 2026-02-15..2026-02-23
_SEARCH_LIMIT = 400  # days; a calendar with no working day in a year is a configuration error


class ConfigError(ValueError):
    """The deadlines file is wrong; the message names the file, the entry and the problem."""


@dataclass(frozen=True)
class Calendar:
    timezone: str = DEFAULT_TIMEZONE
    holidays: frozenset = frozenset()          # dates off work (法定节假日 and their bridging days)
    make_up_workdays: frozenset = frozenset()  # Saturdays/Sundays that are working days (调休上班)
    years: frozenset = frozenset()             # years the file configures
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_tz", ZoneInfo(self.timezone))

    @property
    def tz(self):
        return self._tz

    def is_working_day(self, day):
        if day in self.make_up_workdays:
            return True
        return day not in self.holidays and day.weekday() < 5

    def next_working_day(self, day):
        """The first working day on or after `day`."""
        return self._first_working_day(day, timedelta(days=1))

    def add_working_days(self, day, n):
        """The n-th working day after `day` (before it when n < 0); `day` itself is not counted."""
        step = timedelta(days=1 if n >= 0 else -1)
        for _ in range(abs(n)):
            day = self._first_working_day(day + step, step)
        return day

    def _first_working_day(self, day, step):
        for _ in range(_SEARCH_LIMIT):
            if self.is_working_day(day):
                return day
            day += step
        raise ValueError(f"no working day within {_SEARCH_LIMIT} days of {day}: check the calendar")

    def local_date(self, moment):
        """The county's calendar date at an aware moment."""
        if moment.tzinfo is None:
            raise ValueError(f"{moment!r} has no time zone; deadlines need aware datetimes")
        return moment.astimezone(self._tz).date()

    def start_of_day(self, day):
        """00:00 of `day` in county time (aware)."""
        return datetime.combine(day, time(0), self._tz)

    def month_bounds(self, year, month):
        """[first moment, first moment of the next month) of a month in county time (aware)."""
        following = date(year + month // 12, month % 12 + 1, 1)
        return self.start_of_day(date(year, month, 1)), self.start_of_day(following)

    def end_of_day(self, day):
        """24:00 of `day` in county time, i.e. the next local midnight (aware)."""
        return datetime.combine(day + timedelta(days=1), time(0), self._tz)

    def configured(self, year):
        return year in self.years

    def missing_years(self, *years):
        """Of `years`, those the calendar falls back to Monday–Friday for."""
        return [y for y in years if y not in self.years]

    def coverage_warnings(self, today):
        """Warnings for this year and, from December on, next year if unconfigured."""
        wanted = [today.year] + ([today.year + 1] if today.month == 12 else [])
        return [f"the working-day calendar has no holidays for {y}: Monday–Friday is assumed; add "
                f"the State Council's arrangement for {y} to the deadlines file"
                for y in self.missing_years(*wanted)]


def chinese_date(day):
    """A date (or its ISO text, or a moment's) as written in Chinese documents: 2026年3月9日."""
    if isinstance(day, str):
        try:
            day = datetime.fromisoformat(day).date() if "T" in day else date.fromisoformat(day)
        except ValueError:
            return day
    if isinstance(day, datetime):
        day = day.date()
    return f"{day.year}年{day.month}月{day.day}日"


# --- parsing ---------------------------------------------------------------------------

def parse(raw, where, timezone=DEFAULT_TIMEZONE):
    """A Calendar from the `calendar:` mapping of the deadlines file:

        calendar:
          2026:
            holidays: [2026-01-01..2026-01-03, ...]   # dates or inclusive ranges
            make_up_workdays: [2026-01-04, ...]       # Saturdays or Sundays
    Dates must be strings (the loader keeps YAML from turning them into dates itself)."""
    def fail(entry, problem):
        raise ConfigError(f"{where}: {entry}: {problem}")

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail("timezone", f"unknown time zone {timezone!r}")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        fail("calendar", "expected a mapping of years")
    holidays, workdays, years = set(), set(), set()
    for key, spec in raw.items():
        year = _year(key)
        if year is None:
            fail(f"calendar.{key}", "expected a year such as 2026")
        entry = f"calendar.{year}"
        if year in years:
            fail(entry, "the year is configured twice")
        years.add(year)
        if not isinstance(spec, dict):
            fail(entry, "expected 'holidays' and 'make_up_workdays'")
        unknown = set(spec) - {"holidays", "make_up_workdays"}
        if unknown:
            fail(entry, f"unknown keys {', '.join(sorted(map(str, unknown)))}; expected holidays, make_up_workdays")
        off = _dates(spec.get("holidays"), year, f"{entry}.holidays", fail)
        on = _dates(spec.get("make_up_workdays"), year, f"{entry}.make_up_workdays", fail)
        for day, e in on.items():
            if day.weekday() < 5:
                fail(e, f"{day} is a {day:%A}; a make-up working day is a Saturday or Sunday")
            if day in off:
                fail(e, f"{day} is also listed as a holiday")
        holidays |= set(off)
        workdays |= set(on)
    return Calendar(timezone, frozenset(holidays), frozenset(workdays), frozenset(years))


def _year(key):
    text = str(key)
    return int(text) if re.fullmatch(r"[12][0-9]{3}", text) else None


def _dates(items, year, entry, fail):
    """{date: entry name} of a list of dates and inclusive 'A..B' ranges, all within `year`."""
    if items is None:
        return {}
    if not isinstance(items, list):
        fail(entry, "expected a list of dates (YYYY-MM-DD) or ranges (YYYY-MM-DD..YYYY-MM-DD)")
    found = {}
    for i, item in enumerate(items):
        e = f"{entry}[{i}]"
        text = str(item).strip()
        m = _RANGE.match(text)
        first, last = (_date(m.group(1), e, fail), _date(m.group(2), e, fail)) if m else (_date(text, e, fail),) * 2
        if last < first:
            fail(e, f"range {text} ends before it starts")
        day = first
        while day <= last:
            if day.year != year:
                fail(e, f"{day} is not in {year}")
            if day in found:
                fail(e, f"{day} is listed twice (also at {found[day]})")
            found[day] = e
            day += timedelta(days=1)
    return found


def _date(text, entry, fail):
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        fail(entry, f"{text} is not a date (YYYY-MM-DD)")
