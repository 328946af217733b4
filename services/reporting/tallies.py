"""Tallies (统计汇总): what each case adds to the indicators' counts, per county day and per
grouping of the dimensions they filter on (and per month and place, for the hotspots). A case row counts on the day it was registered, each
mediation conclusion on the day it concluded (its `body` the body that mediated). When a case's
row changes, the tallies change by what it adds now minus what it added before, so they always
equal the sum over the rows without reading them. Pure: rows in, keys and counts out."""
from datetime import datetime
from itertools import combinations

DIMENSIONS = ("township", "village", "category", "channel", "body")
PAIRED = ("township", "category", "channel", "body")  # a village is already small: its filters read the rows
DAILY = [(), *[(d,) for d in DIMENSIONS], *combinations(PAIRED, 2)]
# Counted by month (the key's day is the month's first): each place's categories, for the
# hotspots. Its keys name a township, a village and a category at once, which no daily grouping
# does, so the indicators (key_for) never read them.
MONTHLY = ("township", "village", "category")
GROUPINGS = [*DAILY, MONTHLY]
ANY, NONE = "*", ""  # every value of a dimension; no value (a case not yet assigned a body)
MEDIATION_COUNTS = {"agreements": "agreement", "failures": "no_agreement"}


def key_for(filters):
    """The tally key ("township|village|category|channel|body", as the tables' `key` column
    joins them) that answers these filters, or None when no grouping holds them together (then
    the case rows are counted). A village names its township: the township's filter adds nothing
    (the service refuses a village of another township)."""
    chosen = tuple(d for d in DIMENSIONS if filters.get(d) and not (d == "township" and filters.get("village")))
    if chosen not in DAILY:
        return None
    return "|".join(filters[d] if d in chosen else ANY for d in DIMENSIONS)


def contributions(row, local_date):
    """{(day, township, village, category, channel, body): {count: n}} that a case row adds.
    `row` holds the dimensions, `registered_at`, `mediations` and `counts`: what the case
    counts for, 0 or 1 by name (store.FLAGS)."""
    found = {}
    if row is None:
        return found
    if row["registered_at"] is not None:
        _add(found, local_date(row["registered_at"]), row, row["counts"])
    for m in row["mediations"]:
        counts = {name: int(m["outcome"] == outcome) for name, outcome in MEDIATION_COUNTS.items()}
        _add(found, local_date(datetime.fromisoformat(m["at"])), {**row, "body": m["body"]}, counts)
    return found


def difference(before, after):
    """What to add to the tallies when a row's contributions go from `before` to `after`."""
    found = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, {}), after.get(key, {})
        delta = {n: new.get(n, 0) - old.get(n, 0) for n in old.keys() | new.keys()}
        delta = {n: v for n, v in delta.items() if v}
        if delta:
            found[key] = delta
    return found


def _add(found, day, row, counts):
    counts = {n: v for n, v in counts.items() if v}
    if not counts:
        return
    for grouping in GROUPINGS:
        values = ((NONE if row[d] is None else row[d]) if d in grouping else ANY for d in DIMENSIONS)
        key = (day.replace(day=1) if grouping == MONTHLY else day, *values)
        slot = found.setdefault(key, {})
        for name, n in counts.items():
            slot[name] = slot.get(name, 0) + n

