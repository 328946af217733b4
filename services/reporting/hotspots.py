"""Hotspots and early warning (未诉先办 预警): per place, the categories rising this month against
their trailing three-month average and against the same month a year before, and the places
where repeat petitions or problem clusters grow. Pure: monthly counts in, warnings out."""
from datetime import date

RISING_FACTOR = 2.0  # at least twice the usual …
RISING_MINIMUM = 3   # … and at least this many cases: 1 → 2 is noise, not a hotspot


def month_shift(month, n):
    """'2026-03' shifted by n months."""
    year, m = map(int, month.split("-"))
    index = year * 12 + (m - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_day(month):
    return date.fromisoformat(f"{month}-01")


def months_compared(month):
    """The months a category's warning for `month` reads: it, the three before, a year before."""
    return [first_day(month_shift(month, k)) for k in (0, -1, -2, -3, -12)]


def _rising(count, usual):
    return count >= RISING_MINIMUM and count >= RISING_FACTOR * usual


def categories(rows, month):
    """rows: {place, level, category, month, n} over the 12 months before `month` and `month`
    itself; a place is a village or a whole township (a category may rise across a township's
    villages while none of them alone shows it)."""
    by = {}
    for r in rows:
        by.setdefault((r["place"], r["level"], r["category"]), {})[r["month"]] = r["n"]
    trailing_months = [month_shift(month, -k) for k in (1, 2, 3)]
    found = []
    for (place, level, category), counts in by.items():
        count = counts.get(month, 0)
        trailing = sum(counts.get(m, 0) for m in trailing_months) / 3
        last_year = counts.get(month_shift(month, -12), 0)
        vs_trailing, vs_last_year = _rising(count, trailing), last_year > 0 and _rising(count, last_year)
        if vs_trailing or vs_last_year:
            found.append({"place": place, "level": level, "category": category, "count": count,
                          "trailing_average": round(trailing, 2), "same_month_last_year": last_year,
                          "rising_vs_trailing": vs_trailing, "rising_vs_last_year": vs_last_year})
    return sorted(found, key=lambda h: (-h["count"], h["place"], h["category"]))


def growth(rows, month):
    """rows: {place, level, month, n} of one kind of event: the places (villages, townships as
    a whole) where it grows this month."""
    by = {}
    for r in rows:
        by.setdefault((r["place"], r["level"]), {})[r["month"]] = r["n"]
    found = []
    for (place, level), counts in by.items():
        count = counts.get(month, 0)
        trailing = sum(counts.get(month_shift(month, -k), 0) for k in (1, 2, 3)) / 3
        if _rising(count, trailing):
            found.append({"place": place, "level": level, "count": count, "trailing_average": round(trailing, 2)})
    return sorted(found, key=lambda h: (-h["count"], h["place"]))
