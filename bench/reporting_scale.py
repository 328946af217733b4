"""Reporting at province scale: millions of cases in the read model, and how fast the indicators,
the backlog and overdue lists, hotspots and a case's timeline answer over HTTP (bench/README.md).

The read model is loaded straight into reporting's database by SQL (what the fold would have
written: a synthetic province of 150 townships over three years, every case with the events of
its story), the tallies are built by the service's own store.build_tallies, and then a reporting
service runs as a process of its own and is asked, one request at a time. A plain process: it
never imports fengqiao.runner or fengqiao.green."""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

import psycopg
import requests
from psycopg.rows import dict_row

from e2e_throughput import AMQP_URI, assert_plain_process, code_version, delete_service_queues, progress
from fengqiao import auth, config, db, deadlines, launcher, migrations
from services.reporting import store

PREFIX = "fqscale"  # the database is fqscale_reporting, kept between runs with --keep
PORT = 19104
CATEGORIES = ["land_dispute", "neighbour_dispute", "marriage_family", "wage_arrears", "traffic_accident",
              "land_acquisition", "illegal_construction", "environmental_pollution", "heating", "social_assistance",
              "property_management", "contract_debt", "deforestation", "medical_dispute", "cadre_misconduct",
              "court_case", "other"]
TOWNSHIP_BODIES = ["PETITION", "JUDICIAL", "LAND", "LABOUR", "POLICE", "CIVIL"]
COUNTY_BODIES = ["SH-PETITION-BUREAU", "SH-POLITICAL-LEGAL", "SH-HRSS", "SH-TRAFFIC-MEDIATION",
                 "SH-LABOUR-MEDIATION", "SH-MEDICAL-MEDIATION"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=5_000_000, help="cases in the read model (default 5,000,000)")
    p.add_argument("--townships", type=int, default=150, help="townships, 12 villages each (default 150)")
    p.add_argument("--repeat", type=int, default=20, help="requests per query shape (default 20)")
    p.add_argument("--timelines", type=int, default=300, help="timelines of random cases asked (default 300)")
    p.add_argument("--keep", action="store_true", help="keep the loaded database for the next run (reused "
                                                        "when it holds as many cases)")
    return p.parse_args(argv)


# --- the synthetic province ------------------------------------------------------------------

def r(k):
    """A deterministic pseudo-random number in [0, 1) for case i, draw k (SQL)."""
    return f"((hashint8(i * 64 + {k}) & 2147483647)::float8 / 2147483648)"


def pick(options, k):
    return f"(ARRAY[{', '.join(repr(o) for o in options)}])[1 + floor({r(k)} * {len(options)})::int]"


CASES_SQL = f"""
INSERT INTO cases (case_id, number, township, village, location, category, channel, channel_class, subject,
                   registered_at, petitioner_count, collective, status, body, tier, risk, accepted_at, decided_at,
                   acceptance_overdue, handling_overdue, escalated_to_county, resolved_at, resolution_tier, outcome,
                   followed_up_at, rating, closed_at, repeat_count, mediation_outcome, mediations, open, next_due_at,
                   deadlines, updated_at)
SELECT case_id, number, township, village, coalesce(village, township), category, channel, channel_class, subject,
       reg, 1, false, status, body, tier, risk,
       CASE WHEN decided AND NOT not_accepted THEN reg + interval '1 day' * (1 + 3 * d1) END,
       CASE WHEN decided THEN reg + interval '1 day' * (1 + 3 * d1) END,
       decided AND d2 < 0.05 OR NOT decided AND NOT guided AND age > 15,
       done AND d3 < 0.06, tier = 'county' AND d4 < 0.5,
       CASE WHEN done THEN reg + interval '1 day' * (4 + 25 * d5) END, CASE WHEN done THEN tier END,
       CASE WHEN done THEN (ARRAY['demand_met', 'explained', 'relieved', 'referred'])[1 + floor(d6 * 4)::int] END,
       CASE WHEN done THEN reg + interval '1 day' * (8 + 25 * d5) END,
       CASE WHEN done THEN CASE WHEN d7 < 0.7 THEN 'satisfied' WHEN d7 < 0.9 THEN 'basically_satisfied'
                                ELSE 'unsatisfied' END END,
       CASE WHEN done THEN reg + interval '1 day' * (9 + 25 * d5) END,
       CASE WHEN d8 < 0.08 THEN 1 WHEN d8 < 0.1 THEN 2 ELSE 0 END,
       CASE WHEN mediated THEN outcome END,
       CASE WHEN mediated THEN jsonb_build_array(jsonb_build_object(
           'at', to_char((reg + interval '3 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00'),
           'body', body, 'outcome', outcome)) ELSE '[]' END,
       open, CASE WHEN open THEN reg + interval '60 days' END,
       CASE WHEN open THEN jsonb_build_array(jsonb_build_object(
           'policy', 'handling', 'label', '办理期限', 'paused', false, 'share_used', round(least(age / 60.0, 1.5), 3),
           'started_at', to_char(reg AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00'),
           'due_at', to_char((reg + interval '60 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00')))
            ELSE '[]' END,
       reg
FROM (SELECT *, status NOT IN ('closed', 'not_accepted', 'guided') AS open,
             mediated_draw < 0.3 AND tier = 'village' AND done AS mediated,
             CASE WHEN d9 < 0.8 THEN 'agreement' ELSE 'no_agreement' END AS outcome
      FROM (SELECT *, CASE WHEN guided THEN 'guided' WHEN done THEN 'closed' WHEN not_accepted THEN 'not_accepted'
                           WHEN decided THEN 'in_progress' ELSE 'assigned' END AS status,
                      CASE WHEN guided THEN NULL WHEN tier = 'village' THEN village || '-MEDIATION'
                           WHEN tier = 'township' THEN township || '-' || {pick(TOWNSHIP_BODIES, 10)}
                           ELSE {pick(COUNTY_BODIES, 10)} END AS body
            FROM (SELECT *, NOT guided AND (done OR not_accepted OR age > 2 * {r(13)} + 1) AS decided
                  FROM (SELECT *, NOT guided AND {r(12)} < 0.03 AND age > 2 AS not_accepted,
                               NOT guided AND {r(12)} >= 0.03 AND {r(11)} < least(age / 30.0, 1) * 0.97 AS done
                        FROM (SELECT i, gen_random_uuid() AS case_id, reg, township, village,
                               extract(epoch FROM now() - reg) / 86400 AS age,
                               township || '-' || to_char(reg, 'YYYY') || '-' || lpad(i::text, 8, '0') AS number,
                               {pick(CATEGORIES, 4)} AS category,
                               CASE WHEN {r(5)} < 0.35 THEN 'hotline' WHEN {r(5)} < 0.6 THEN 'visit'
                                    WHEN {r(5)} < 0.7 THEN 'phone' WHEN {r(5)} < 0.8 THEN 'online'
                                    WHEN {r(5)} < 0.9 THEN 'grid_report' WHEN {r(5)} < 0.95 THEN 'letter'
                                    WHEN {r(5)} < 0.98 THEN 'proxy' ELSE 'referral' END AS channel,
                               CASE WHEN {r(6)} < 0.03 THEN 'discipline' WHEN {r(6)} < 0.08 THEN 'litigation'
                                    WHEN {r(6)} < 0.3 THEN 'administrative' ELSE 'civil_dispute' END AS channel_class,
                               '群众反映的事项（合成数据）' AS subject,
                               CASE WHEN {r(7)} < 0.02 THEN 'red' WHEN {r(7)} < 0.12 THEN 'yellow' ELSE 'blue' END AS risk,
                               CASE WHEN {r(9)} < 0.55 AND village IS NOT NULL THEN 'village'
                                    WHEN {r(9)} < 0.92 THEN 'township' ELSE 'county' END AS tier,
                               {r(8)} < 0.04 AS guided, {r(14)} AS mediated_draw,
                               {r(20)} AS d1, {r(21)} AS d2, {r(22)} AS d3, {r(23)} AS d4, {r(24)} AS d5,
                               {r(25)} AS d6, {r(26)} AS d7, {r(27)} AS d8, {r(28)} AS d9
                        FROM (SELECT i, now() - interval '1095 days' * (1 - (i - 0.5) / %(n)s) AS reg, township,
                                     CASE WHEN {r(2)} < 0.7 THEN township || '-V'
                                          || lpad(floor({r(3)} * 12)::text, 2, '0') END AS village
                              FROM (SELECT i, 'T' || lpad(floor({r(1)} * %(townships)s)::text, 3, '0') AS township
                                    FROM generate_series(%(first)s::bigint, %(last)s::bigint) i) numbered
                             ) placed) drawn) lived) decided) named) final
"""


EVENTS_SQL = """
INSERT INTO events (source, id, type, time, subject, case_id, correlationid, data)
SELECT e.source, gen_random_uuid()::text, e.type, e.time, c.case_id::text, c.case_id, c.number,
       jsonb_build_object('case_id', c.case_id, 'number', c.number, 'township', c.township) || e.data
FROM (SELECT * FROM cases WHERE registered_at >= %(from)s AND registered_at < %(to)s) c
CROSS JOIN LATERAL (VALUES
  ('/fengqiao/intake', 'case.registered', c.registered_at, jsonb_build_object(
      'location', c.location, 'category', c.category, 'channel', c.channel, 'channel_class', c.channel_class,
      'subject', c.subject, 'registered_at', c.registered_at, 'petitioner_count', 1, 'collective', false)),
  ('/fengqiao/intake', 'case.guided', CASE WHEN c.status = 'guided' THEN c.registered_at END, '{}'::jsonb),
  ('/fengqiao/routing', 'case.assigned', CASE WHEN c.body IS NOT NULL THEN c.registered_at + interval '5 min' END,
      jsonb_build_object('body', c.body, 'tier', c.tier, 'status', 'assigned')),
  ('/fengqiao/routing', 'case.accepted', c.accepted_at, jsonb_build_object('status', 'in_progress')),
  ('/fengqiao/routing', 'case.not_accepted', CASE WHEN c.status = 'not_accepted' THEN c.decided_at END,
      jsonb_build_object('status', 'not_accepted')),
  ('/fengqiao/mediation', 'mediation.concluded', (c.mediations->0->>'at')::timestamptz,
      jsonb_build_object('outcome', c.mediation_outcome, 'mediating_body', c.body, 'file_status', 'concluded')),
  ('/fengqiao/routing', 'case.resolved', c.resolved_at, jsonb_build_object('status', 'resolved', 'outcome', c.outcome)),
  ('/fengqiao/routing', 'case.followed_up', c.followed_up_at,
      jsonb_build_object('status', 'followed_up', 'rating', c.rating)),
  ('/fengqiao/routing', 'case.closed', c.closed_at, jsonb_build_object('status', 'closed', 'final', false))
) e(source, type, time, data)
WHERE e.time IS NOT NULL
"""

CHUNK = 250_000


def load(url, args):
    """The synthetic province into an empty read model, in chunks; the tallies built as the
    service builds them; statistics and visibility maps made (as autovacuum would)."""
    rules = deadlines.load(config.settings("reporting").deadlines_file)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        started = time.monotonic()
        for first in range(1, args.cases + 1, CHUNK):
            last = min(first + CHUNK - 1, args.cases)
            conn.execute(CASES_SQL, {"n": args.cases, "townships": args.townships, "first": first, "last": last})
            progress(f"  cases {last:,} / {args.cases:,} ({time.monotonic() - started:.0f} s)")
        span = conn.execute("SELECT min(registered_at), max(registered_at) + interval '1 s' FROM cases").fetchone()
        edges = [span[0] + (span[1] - span[0]) * k / 20 for k in range(21)]
        for k in range(20):
            conn.execute(EVENTS_SQL, {"from": edges[k], "to": edges[k + 1]})
            progress(f"  events {5 * (k + 1)}% ({time.monotonic() - started:.0f} s)")
    pool = db.open_pool(url, max_size=1)
    with db.transaction(pool) as tx:
        store.build_tallies(tx, rules.calendar.timezone, datetime.now(timezone.utc))
    pool.close()
    progress(f"  tallies built ({time.monotonic() - started:.0f} s)")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_scale (cases bigint)")
        conn.execute("INSERT INTO bench_scale VALUES (%s)", (args.cases,))
        conn.execute("VACUUM ANALYZE")
    progress(f"  vacuumed ({time.monotonic() - started:.0f} s)")
    return time.monotonic() - started


def loaded_cases(url):
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT cases FROM bench_scale").fetchone()[0]
    except psycopg.Error:
        return None


# --- the questions ---------------------------------------------------------------------------

def month_start(day, back=0):
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def indicator_questions(today, sample):
    """(shape, query) pairs: each period × each kind of filter, the values drawn from the data."""
    periods = {"this month": (month_start(today), today + timedelta(days=1)),
               "last month": (month_start(today, 1), month_start(today)),
               "a quarter": (month_start(today, 3), month_start(today)),
               "a year": (month_start(today, 12), month_start(today))}
    filters = {"county": lambda c: {}, "township": lambda c: {"township": c["township"]},
               "village": lambda c: {"village": c["village"]}, "category": lambda c: {"category": c["category"]},
               "channel": lambda c: {"channel": c["channel"]}, "body": lambda c: {"body": c["body"]},
               "township+category": lambda c: {"township": c["township"], "category": c["category"]},
               "channel+body": lambda c: {"channel": c["channel"], "body": c["body"]},
               "village+category (rows)": lambda c: {"village": c["village"], "category": c["category"]},
               "township+category+channel (rows)": lambda c: {"township": c["township"], "category": c["category"],
                                                             "channel": c["channel"]}}
    for period_name, (first, last) in periods.items():
        for filter_name, make in filters.items():
            yield f"{filter_name}, {period_name}", [
                {"from": first.isoformat(), "to": last.isoformat(), **make(c)} for c in sample]


def sample_cases(url, n):
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT number, township, village, category, channel, body FROM cases"
                            " TABLESAMPLE SYSTEM (1) WHERE village IS NOT NULL AND body IS NOT NULL"
                            " AND channel_class <> 'discipline' LIMIT %s",  # a leader sees no discipline report
                            (n,)).fetchall()


def timed(session, url, params=None):
    started = time.perf_counter()
    response = session.get(url, params=params, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} {params}: {response.status_code} {response.text[:300]}")
    return elapsed


def measure_all(base, token, args, sample):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    today = date.today()
    rows = []
    for attempt in range(3):  # warm the connection pool and the code paths
        timed(session, f"{base}/indicators")
    for shape, queries in indicator_questions(today, sample[:args.repeat]):
        rows.append(("indicators", shape, [timed(session, f"{base}/indicators", q) for q in queries]))
    for shape, make in (("county", lambda c: {}), ("township", lambda c: {"township": c["township"]}),
                        ("village", lambda c: {"village": c["village"]})):
        queries = [make(c) for c in sample[:args.repeat]]
        rows.append(("backlog", shape, [timed(session, f"{base}/backlog", q) for q in queries]))
        rows.append(("overdue", shape, [timed(session, f"{base}/overdue", q) for q in queries]))
    month = month_start(today, 1).strftime("%Y-%m")
    for shape, make in (("county", lambda c: {}), ("township", lambda c: {"township": c["township"]})):
        queries = [{"month": month, **make(c)} for c in sample[:max(args.repeat // 4, 3)]]
        rows.append(("hotspots", shape, [timed(session, f"{base}/hotspots", q) for q in queries]))
    numbers = [c["number"] for c in random.Random(7).sample(sample, min(args.timelines, len(sample)))]
    rows.append(("timeline", "a random case", [timed(session, f"{base}/cases/{n}/timeline") for n in numbers]))
    return rows


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(rows, facts, load_seconds, argv):
    lines = [f"Commit {code_version()}, {facts}", "",
             "| Endpoint | Query | n | p50 ms | p95 ms | max ms |", "|---|---|---:|---:|---:|---:|"]
    for endpoint, shape, times in rows:
        lines.append(f"| {endpoint} | {shape} | {len(times)} | {statistics.median(times):.1f} | "
                     f"{percentile(times, 95):.1f} | {max(times):.1f} |")
    every = [t for endpoint, _, times in rows if endpoint == "indicators" for t in times]
    timelines = [t for endpoint, _, times in rows if endpoint == "timeline" for t in times]
    lines += ["", f"All indicator queries: p95 **{percentile(every, 95):.1f} ms** (target < 100 ms); "
                  f"timelines: p95 **{percentile(timelines, 95):.1f} ms** (target < 20 ms)."]
    if load_seconds is not None:
        lines.append(f"Loading the read model took {load_seconds / 60:.1f} min.")
    lines.append(f"Command: `.venv/bin/python bench/reporting_scale.py {' '.join(argv)}`".replace("  ", " "))
    return "\n".join(lines)


def resident_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    assert_plain_process()
    os.environ.update({"FENGQIAO_AMQP_URI": AMQP_URI, "FENGQIAO_DB_PREFIX": PREFIX,
                       "FENGQIAO_REPORTING_PORT": str(PORT)})
    settings = config.settings("reporting")
    url, load_seconds = settings.database_url, None
    if loaded_cases(url) != args.cases:
        progress(f"loading {args.cases:,} cases into {url.rsplit('/', 1)[1]} …")
        db.drop_database(settings.admin_database_url, url.rsplit("/", 1)[1])
        db.ensure_database(settings.admin_database_url, url.rsplit("/", 1)[1])
        migrations.apply(url, config.REPO_ROOT / "services" / "reporting")
        load_seconds = load(url, args)
    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        counts = conn.execute("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM events),"
                              " (SELECT count(*) FROM tallies), (SELECT count(*) FROM cases WHERE open)").fetchone()
    facts = (f"{counts[0]:,} cases ({counts[3]:,} open), {counts[1]:,} events, {counts[2]:,} tally rows, "
             f"database {size}; {os.cpu_count()} cores, "
             f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB")
    progress(facts)
    log_dir = tempfile.mkdtemp(prefix="fqscale-")
    process = launcher.start("reporting", log_file=open(os.path.join(log_dir, "reporting.log"), "ab"))
    try:
        launcher.wait_ready(f"http://127.0.0.1:{PORT}/health/ready", process)
        token = auth.issue(settings.jwt_secret, settings.jwt_audience, "bench", ["leader"], "SH")
        rows = measure_all(f"http://127.0.0.1:{PORT}", token, args, sample_cases(url, max(args.repeat, args.timelines)))
        memory = resident_mb(process.pid)
    finally:
        launcher.stop([process])
        delete_service_queues()
        if not args.keep:
            db.drop_database(settings.admin_database_url, url.rsplit("/", 1)[1])
    print(report(rows, facts + (f"; reporting {memory:.0f} MB resident" if memory else ""), load_seconds, argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
