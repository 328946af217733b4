"""Reporting on the real broker and database, from a small hand-made history whose right answers
are worked out below: every indicator, 环比 and 同比, the same event twice counted once, a rebuild
giving the same numbers, backlog and overdue lists, a rising category, the ledger read back."""
import io
import uuid
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
import requests
from openpyxl import load_workbook
from psycopg.types.json import Jsonb

from fengqiao import auth, config, db, deadlines, migrations
from fengqiao.county import load as load_county
from tests.support.events import contract_event
from services.reporting import exports, rebuild, store
from services.reporting.service import ReportingService
from tests.integration.conftest import eventually, pool_of, publish, web_port

REPORTING_DIR = config.REPO_ROOT / "services" / "reporting"
BEIJING = timezone(timedelta(hours=8))
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}


def clerk():
    s = config.settings("reporting")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "QS-WUXY", ["clerk"], "SH")}


def at(month, day, hour=10, year=2026):
    return datetime(year, month, day, hour, tzinfo=BEIJING)


class Case:
    """A case's events as the services publish them, with the times they happened."""

    def __init__(self, number, location, category, registered):
        self.id, self.number, self.township = str(uuid.uuid4()), number, number.split("-")[0]
        self.events = [("intake", "case.registered", registered, {
            "location": location, "category": category, "channel": "visit", "channel_class": "civil_dispute",
            "subject": "事由", "registered_at": registered.isoformat(), "petitioner_count": 1, "collective": False})]

    def then(self, source, type, when, **data):
        self.events.append((source, type, when, data))
        return self

    def envelopes(self):
        found = []
        for source, type, when, data in self.events:
            common = {"case_id": self.id, "number": self.number, "township": self.township}
            if type == "case.repeat_linked":  # the one case event without its township
                del common["township"]
            e = contract_event(source, type, {**common, **data}, subject=self.id, correlationid=f"corr-{self.number}")
            found.append({**e, "time": when.isoformat()})
        return found


def assigned(body, tier):
    return dict(body=body, body_name=body, body_level=tier, tier=tier, co_bodies=[], rule="r", reason="r",
                assigned_by="rules", channel_class="civil_dispute", category="x", status="assigned")


def history():
    a = (Case("QS-2026-000001", "QS01", "neighbour_dispute", at(3, 2))  # resolved in the village, satisfied
         .then("routing", "case.assigned", at(3, 2, 11), **assigned("QS01-MEDIATION", "village"))
         .then("routing", "case.signed", at(3, 2, 15), status="signed")
         .then("routing", "case.accepted", at(3, 3), status="in_progress")
         .then("mediation", "mediation.concluded", at(3, 9), outcome="agreement", file_status="concluded")
         .then("routing", "case.resolved", at(3, 10), status="resolved", outcome="demand_met")
         .then("routing", "case.followed_up", at(3, 12), status="followed_up", rating="satisfied")
         .then("routing", "case.closed", at(3, 13), status="closed", final=False))
    b = (Case("QS-2026-000002", "QS02", "land_dispute", at(3, 5))  # accepted late, a repeat, unsatisfied
         .then("routing", "case.assigned", at(3, 5, 11), **assigned("QS-JUDICIAL", "township"))
         .then("routing", "case.signed", at(3, 6), status="signed")
         .then("intake", "case.repeat_linked", at(3, 8), repeat_count=1)
         .then("routing", "deadline.overdue", at(3, 21), policy="acceptance", days_overdue=0)
         .then("mediation", "mediation.concluded", at(3, 20), outcome="no_agreement", file_status="concluded")
         .then("routing", "case.accepted", at(3, 25), status="in_progress")
         .then("routing", "case.resolved", at(3, 28), status="resolved", outcome="explained")
         .then("routing", "case.followed_up", at(3, 30), status="followed_up", rating="unsatisfied"))
    c = (Case("QS-2026-000003", "QS01-G1", "neighbour_dispute", at(3, 10))  # sent up to the county, overdue
         .then("routing", "case.assigned", at(3, 10, 11), **assigned("QS01-MEDIATION", "village"))
         .then("routing", "case.accepted", at(3, 11), status="in_progress")
         .then("routing", "case.escalated", at(3, 20), status="assigned", from_tier="village", to_tier="county")
         .then("routing", "case.assigned", at(3, 20), **assigned("SH-POLITICAL-LEGAL", "county"))
         .then("routing", "deadline.overdue", at(5, 11), policy="handling", days_overdue=0))
    d = Case("QS-2026-000004", "QS01", "land_dispute", at(3, 12)).then("intake", "case.guided", at(3, 12))
    e = (Case("QS-2026-000005", "QS03", "heating", at(2, 10))  # the month before
         .then("routing", "case.assigned", at(2, 10, 11), **assigned("QS-PETITION", "township")))
    f = Case("QS-2025-000001", "QS03", "heating", at(3, 15, year=2025))  # a year before
    rising = [Case(f"BY-2026-00000{i}", "BY01", "land_dispute", at(3, 3 + i)) for i in range(1, 4)]
    usual = [Case("BY-2026-000009", "BY01", "land_dispute", at(1, 20))]
    return [a, b, c, d, e, f, *rising, *usual]


# Worked out by hand for township QS in March 2026: A, B, C and D were registered; A, B and C
# were decided (B late); A and B were resolved (A in the village, B in the township), both on time;
# ratings: A satisfied, B not; B was petitioned again; C went up to the county; mediation: A's
# file agreed, B's did not.
EXPECTED = {
    "registered": 4, "acceptance_on_time_rate": 2 / 3, "resolution_rate": 2 / 3, "on_time_resolution_rate": 1.0,
    "satisfaction_rate": 0.5, "repeat_petition_rate": 0.25, "resolved_in_village_share": 0.5,
    "resolved_in_township_share": 1.0, "sent_to_county_share": 0.25, "first_petition_resolution_rate": 0.25,
    "mediation_success_rate": 0.5,
}


@pytest.fixture
def reporting(run_service, fresh_database, isolated):
    url = fresh_database(REPORTING_DIR)
    container = run_service(isolated(ReportingService), url)
    return f"http://127.0.0.1:{web_port(container)}", url


def indicators(base, **query):
    r = requests.get(f"{base}/indicators", params={**MARCH, "township": "QS", **query}, headers=clerk())
    assert r.status_code == 200, r.text
    return r.json()["indicators"]


def values(found):
    return {k: (round(v["value"], 4) if isinstance(v["value"], float) else v["value"]) for k, v in found.items()}


def publish_all(amqp_uri, events):
    for event in events:
        publish(amqp_uri, event["source"].rsplit("/", 1)[1], event)


def test_every_indicator_from_a_hand_made_history(reporting, amqp_uri):
    base, url = reporting
    events = [e for case in history() for e in case.envelopes()]
    publish_all(amqp_uri, events[::-1])  # in any order
    expected = {k: round(v, 4) for k, v in EXPECTED.items()}
    found = eventually(lambda: (f := indicators(base)) and values(f) == expected and f, timeout=20)
    assert found["registered"]["previous_period"] == 1 and found["registered"]["same_period_last_year"] == 1
    assert found["registered"]["change_vs_previous_period"] == 3.0  # 1 → 4 cases
    assert found["acceptance_on_time_rate"]["numerator"] == 2 and found["acceptance_on_time_rate"]["denominator"] == 3
    assert values(indicators(base, village="QS01"))["registered"] == 3  # A, C (at a grid of QS01) and D
    assert values(indicators(base, category="land_dispute"))["registered"] == 2

    publish_all(amqp_uri, events[:5])  # the same events again
    first = eventually(lambda: requests.get(f"{base}/cases/QS-2026-000001/timeline", headers=clerk()).json())
    assert [e["type"] for e in first["events"]][:4] == ["case.registered", "case.assigned", "case.signed", "case.accepted"]
    assert first["status"] == "closed" and first["deadlines"] == []
    assert values(indicators(base)) == expected

    with pool_of(url) as pool, pool.connection() as conn:  # the case rows lost: rebuilt from the events
        conn.execute("DELETE FROM cases")
        conn.commit()
    county = load_county(config.settings("reporting").county_file)
    rebuild.rebuild(url, deadlines.load(config.settings("reporting").deadlines_file), county, datetime.now(timezone.utc))
    assert values(indicators(base)) == expected


def test_lists_hotspots_and_the_ledger(reporting, amqp_uri, monkeypatch):
    base, url = reporting
    publish_all(amqp_uri, [e for case in history() for e in case.envelopes()])
    eventually(lambda: requests.get(f"{base}/stats", headers=clerk()).json()["total"] == 10, timeout=20)

    backlog = requests.get(f"{base}/backlog", params={"township": "QS"}, headers=clerk()).json()
    assert sum(backlog["buckets"].values()) == 3  # C, E and F are still being handled …
    assert backlog["buckets"]["365+"] == 1 and backlog["oldest_days"] > 365  # … F for over a year (积案)
    overdue = requests.get(f"{base}/overdue", params={"township": "QS"}, headers=clerk()).json()
    # the longest overdue first: F's acceptance (2025), E's signing, C's signing at the county and its 60 days
    assert [o["number"] for o in overdue] == ["QS-2025-000001", "QS-2026-000005", "QS-2026-000003"]
    late = {d["policy"]: d["days_overdue"] for d in overdue[2]["overdue"]}
    assert late["handling"] > 0 and "sign" in late  # C was never signed for at the county

    hot = requests.get(f"{base}/hotspots", params={"month": "2026-03"}, headers=clerk()).json()
    assert [(h["place"], h["level"], h["category"], h["count"]) for h in hot["rising_categories"]] == [
        ("BY", "township", "land_dispute", 3), ("BY01", "village", "land_dispute", 3)]  # the township as a whole too
    assert hot["rising_categories"][1]["trailing_average"] == 0.33

    r = requests.get(f"{base}/ledger.xlsx", params={**MARCH, "township": "QS"}, headers=clerk())
    assert r.status_code == 200 and "ledger-2026-03-01-2026-03-31.xlsx" in r.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("编号", "登记时间", "渠道") and [row[0] for row in rows[1:]] == [
        "QS-2026-000001", "QS-2026-000002", "QS-2026-000003", "QS-2026-000004"]
    csv = requests.get(f"{base}/ledger.csv", params={**MARCH, "village": "QS01"}, headers=clerk())
    assert csv.content.decode("utf-8-sig").splitlines()[0].startswith("编号,登记时间")
    with pool_of(url) as pool, db.transaction(pool) as tx:  # page after page, each case once, in order
        march = rebuild_bounds(MARCH)
        pages, after = [], None
        while page := store.ledger_page(tx, {}, march, after, limit=2):
            pages.append([r["number"] for r in page])
            after = (page[-1]["registered_at"], page[-1]["number"], page[-1]["case_id"])
        assert [len(p) for p in pages] == [2, 2, 2, 1] and len({n for p in pages for n in p}) == 7
    monkeypatch.setattr(exports, "XLSX_ROWS", 3)  # more cases than a sheet takes: refused, the CSV still whole
    big = requests.get(f"{base}/ledger.xlsx", params=MARCH, headers=clerk())
    assert big.status_code == 400 and "7 cases" in big.json()["errors"][0]["message"]
    whole = requests.get(f"{base}/ledger.csv", params=MARCH, headers=clerk())
    assert len(whole.content.decode("utf-8-sig").splitlines()) == 8
    bad = requests.get(f"{base}/indicators", params={"from": "2026-04-01", "to": "2026-03-01"}, headers=clerk())
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "to"
    star = requests.get(f"{base}/indicators", params={"body": "*"}, headers=clerk())  # not "every body"
    assert star.status_code == 400 and star.json()["errors"][0]["field"] == "body"


def test_business_gauges_have_bounded_labels(run_service, fresh_database, isolated, amqp_uri):
    container = run_service(isolated(ReportingService), fresh_database(REPORTING_DIR), GAUGE_SECONDS=0.2)
    base = f"http://127.0.0.1:{web_port(container)}"
    publish_all(amqp_uri, [e for case in history() for e in case.envelopes()])

    def gauges():
        text = requests.get(f"{base}/metrics").text
        return [line for line in text.splitlines() if line.startswith(("fengqiao_open_cases{", "fengqiao_overdue_cases{"))]
    settled = ('fengqiao_overdue_cases{township="QS"} 3.0', 'fengqiao_open_cases{risk="blue",township="QS"} 3.0')
    found = eventually(lambda: (g := gauges()) and all(s in g for s in settled) and g, timeout=20)
    assert not any("QS-20" in line for line in found)  # townships and colours only, never a case
    assert 'fengqiao_open_cases{risk="red",township="QS"} 0.0' in found
    text = requests.get(f"{base}/metrics").text  # nothing waits; the last event came in just now
    assert "fengqiao_projection_waiting_events 0.0" in text
    last = float(next(line.split()[1] for line in text.splitlines()
                      if line.startswith("fengqiao_projection_last_event_timestamp_seconds ")))
    assert abs(last - datetime.now(timezone.utc).timestamp()) < 60


def test_the_tallies_always_equal_the_case_rows(run_service, fresh_database, isolated, amqp_uri):
    """Built before the events came (deltas only), compacted, and rebuilt: for every grouping of
    filters and periods, what the tallies say is what counting the case rows says."""
    url = fresh_database(REPORTING_DIR)
    settings = config.settings("reporting")
    rules = deadlines.load(settings.deadlines_file)
    with pool_of(url) as pool, db.transaction(pool) as tx:
        store.build_tallies(tx, rules.calendar.timezone, datetime.now(timezone.utc))  # of no cases yet
    run_service(isolated(ReportingService), url, TALLY_SECONDS=3600)  # no compaction meanwhile
    events = [e for case in history() for e in case.envelopes()]
    publish_all(amqp_uri, events[::-1])
    filters = [{}, {"township": "QS"}, {"township": "BY"}, {"category": "land_dispute"}, {"channel": "visit"},
               {"body": "QS01-MEDIATION"}, {"body": "QS-JUDICIAL"}, {"township": "QS", "category": "heating"},
               {"channel": "visit", "body": "SH-POLITICAL-LEGAL"}, {"village": "QS01"},
               {"township": "QS", "channel": "visit"}, {"township": "BY", "body": "QS01-MEDIATION"},
               {"category": "land_dispute", "channel": "visit"}, {"category": "heating", "body": "QS-PETITION"},
               {"village": "QS01", "category": "land_dispute"}]
    periods = [(date(2026, 3, 1), date(2026, 4, 1)), (date(2025, 1, 1), date(2027, 1, 1)),
               (date(2026, 3, 2), date(2026, 3, 3)), (date(2026, 3, 9), date(2026, 3, 10))]

    def both(pool):
        with db.transaction(pool) as tx:
            return [(store.indicator_counts(tx, f, p, bounds(rules, p), rules.calendar.timezone),
                     {**store._case_counts(tx, f, bounds(rules, p)), **store._mediation_counts(tx, f, bounds(rules, p))})
                    for f in filters for p in periods]

    with pool_of(url) as pool:
        eventually(lambda: _recorded(pool) == len(events), timeout=20)
        pairs = both(pool)
        assert all(tallied == counted for tallied, counted in pairs), pairs
        assert pairs[0][0]["registered"] == 7 and pairs[0][0]["resolved"] == 2  # all of March, the county
        with db.transaction(pool) as tx:
            assert tx.execute("SELECT count(*) AS n FROM tallies").fetchone()["n"] == 0  # deltas only so far
            assert store.compact_tallies(tx) > 0
        assert all(tallied == counted for tallied, counted in both(pool))
        assert monthly(pool, built=True) == monthly(pool, built=False) != []  # the hotspots' counts too
        with db.transaction(pool) as tx:
            assert tx.execute("SELECT count(*) AS n FROM tally_deltas").fetchone()["n"] == 0
            store.build_tallies(tx, rules.calendar.timezone, datetime.now(timezone.utc))
        assert both(pool) == pairs


def monthly(pool, built):
    """Each place's categories by month, from the tallies or (as if never built) the rows."""
    with pool.connection() as conn:
        with conn.transaction(force_rollback=True):
            if not built:
                conn.execute("UPDATE tally_state SET version = NULL")
            months = [date(2026, 3, 1), date(2026, 2, 1), date(2026, 1, 1), date(2025, 12, 1), date(2025, 3, 1)]
            rows = store.monthly_by_place_and_category(conn, months, "Asia/Shanghai")
            return sorted((r["place"], r["category"], r["month"], r["n"]) for r in rows)


def _recorded(pool):
    with db.transaction(pool) as tx:
        return tx.execute("SELECT count(*) AS n FROM events").fetchone()["n"]


def rebuild_bounds(query):
    rules = deadlines.load(config.settings("reporting").deadlines_file)
    return bounds(rules, (date.fromisoformat(query["from"]), date.fromisoformat(query["to"])))


def bounds(rules, period):
    return tuple(rules.calendar.start_of_day(d) for d in period)


def test_an_upgraded_read_model_keeps_its_mediations_and_open_cases(fresh_database, tmp_path):
    """Migration 004 on a read model with data: the mediation conclusions (read from the events
    before) move into the case rows, and the cases being handled are marked open."""
    (tmp_path / "migrations").mkdir()
    migrations_dir = REPORTING_DIR / "migrations"
    for old in sorted(migrations_dir.glob("00[123]_*.sql")):
        (tmp_path / "migrations" / old.name).write_text(old.read_text())
    url = fresh_database(tmp_path)
    case_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO cases (case_id, number, status) VALUES (%s, 'QS-2026-000001', 'in_progress'),"
                     " (gen_random_uuid(), 'QS-2026-000002', 'closed')", (case_id,))
        conn.execute("INSERT INTO events (source, id, type, time, case_id, correlationid, data) VALUES"
                     " ('/fengqiao/mediation', 'e1', 'mediation.concluded', '2026-03-09T02:00:00Z', %s, 'c', %s),"
                     " ('/fengqiao/mediation', 'e2', 'mediation.concluded', '2026-03-10T02:00:00Z', %s, 'c', %s)",
                     (case_id, Jsonb({"outcome": "no_agreement", "mediating_body": "QS01-MEDIATION"}),
                      case_id, Jsonb({"outcome": "transferred", "mediating_body": "QS-JUDICIAL"})))
    (tmp_path / "migrations" / "004_tallies.sql").write_text((migrations_dir / "004_tallies.sql").read_text())
    assert migrations.apply(url, tmp_path) == ["004_tallies.sql"]
    with psycopg.connect(url) as conn:
        rows = {n: (o, m) for n, o, m in conn.execute("SELECT number, open, mediations FROM cases")}
    still, mediations = rows["QS-2026-000001"]
    assert still is True and rows["QS-2026-000002"][0] is False
    assert [(m["body"], m["outcome"]) for m in mediations] == [("QS01-MEDIATION", "no_agreement")]  # not the transfer
    assert datetime.fromisoformat(mediations[0]["at"]) == datetime(2026, 3, 9, 2, tzinfo=timezone.utc)
