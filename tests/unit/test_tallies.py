"""Tallies (services/reporting/tallies.py): what a case row adds per day and grouping, the
change a refold makes, and which filters the tallies can answer."""
from datetime import date, datetime, timedelta, timezone

from services.reporting import tallies

BEIJING = timezone(timedelta(hours=8))


def local(moment):
    return moment.astimezone(BEIJING).date()


def row(**changes):
    base = {"township": "QS", "village": "QS01", "category": "land_dispute", "channel": "visit", "body": None,
            "registered_at": datetime(2026, 3, 1, 17, 30, tzinfo=timezone.utc),  # 2 March in county time
            "mediations": [], "counts": {"registered": 1, "accepted": 0}}
    return {**base, **changes}


def test_a_case_counts_once_in_every_grouping_on_its_county_day():
    found = tallies.contributions(row(), local)
    assert len(found) == len(tallies.GROUPINGS) == 13
    assert all(counts == {"registered": 1} for counts in found.values())
    assert {key[0] for key in found} == {date(2026, 3, 2), date(2026, 3, 1)}  # the day, and the month …
    assert (date(2026, 3, 1), "QS", "QS01", "land_dispute", "*", "*") in found  # … of a place's category
    assert (date(2026, 3, 2), "*", "*", "*", "*", "*") in found  # the whole county
    assert (date(2026, 3, 2), "QS", "*", "land_dispute", "*", "*") in found  # a township's category
    assert (date(2026, 3, 2), "*", "*", "*", "*", "") in found  # no body yet: '' — not every body ('*')


def test_a_refold_changes_the_tallies_by_the_difference_only():
    before = tallies.contributions(row(), local)
    after = tallies.contributions(row(body="QS-JUDICIAL", counts={"registered": 1, "accepted": 1}), local)
    change = tallies.difference(before, after)
    day = date(2026, 3, 2)
    assert change[(day, "*", "*", "*", "*", "*")] == {"accepted": 1}  # registered already counted
    assert change[(day, "*", "*", "*", "*", "")] == {"registered": -1}  # moved from no body …
    assert change[(day, "*", "*", "*", "*", "QS-JUDICIAL")] == {"registered": 1, "accepted": 1}  # … to its body
    assert tallies.difference(after, after) == {}
    assert tallies.contributions(None, local) == {}  # a row not yet made adds nothing


def test_a_mediation_counts_on_its_day_under_the_body_that_mediated():
    concluded = {"at": "2026-03-09T10:00:00+08:00", "body": "QS01-MEDIATION", "outcome": "agreement"}
    found = tallies.contributions(row(mediations=[concluded], counts={"registered": 0}), local)
    assert found[(date(2026, 3, 9), "*", "*", "*", "*", "QS01-MEDIATION")] == {"agreements": 1}
    assert not any(key[0] == date(2026, 3, 2) for key in found)  # it counts for nothing else
    withdrawn = {**concluded, "outcome": "withdrawn"}
    assert tallies.contributions(row(mediations=[withdrawn], counts={}), local) == {}


def test_filters_the_tallies_answer_and_those_left_to_the_rows():
    assert tallies.key_for({}) == "*|*|*|*|*"
    assert tallies.key_for({"channel": "hotline", "body": "QS-JUDICIAL"}) == "*|*|*|hotline|QS-JUDICIAL"
    assert tallies.key_for({"village": "QS01", "township": None}) == "*|QS01|*|*|*"
    assert tallies.key_for({"village": "QS01", "township": "QS"}) == "*|QS01|*|*|*"
    assert tallies.key_for({"village": "QS01", "category": "land_dispute"}) is None
    assert tallies.key_for({"township": "QS", "category": "x", "channel": "visit"}) is None
