"""Reporting (统计分析): the read side, fed only by events — every case's story, the county's
indicators, backlog and overdue lists, hotspots, the ledger export and business gauges.
Entrypoints only: the fold is in projection.py, the figures in indicators.py and hotspots.py,
the SQL in store.py."""
import logging
from datetime import date, datetime, timedelta, timezone

from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from fengqiao import access, messaging, metrics
from fengqiao.auth import STAFF
from fengqiao.config import SERVICES
from fengqiao.county import CountyConfig, DeadlinesConfig
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.timers import every
from fengqiao.web import Problem, invalid, json_response, load_query, principal, refusals_as_problems, route
from services.reporting import exports, hotspots, indicators, projection, rebuild, store
from services.reporting.schemas import (
    BacklogSchema, FiltersQuery, HotspotsQuery, HotspotsSchema, IndicatorsSchema, OverdueSchema, StatsSchema,
    TimelineSchema,
)

log = logging.getLogger(__name__)
READERS = (*STAFF, "service")  # notify reads the hotspots for its monthly digest


def _now():
    return datetime.now(timezone.utc)


class ReportingService(BackboneService):
    name = "reporting"
    county = CountyConfig()
    deadlines = DeadlinesConfig()
    config = Config()

    @event_handler(*[(source, "#") for source in SERVICES])
    def project(self, event):
        """Keep the event, then fold the case's whole history again into its row."""
        metrics.EVENTS_PROJECTED.labels(event["type"].split(".")[0]).inc()
        metrics.PROJECTION_LAG.set(max((_now() - datetime.fromisoformat(event["time"])).total_seconds(), 0))
        case_id = projection.case_id_of(event)
        with self.db.transaction() as tx:  # the events table is the inbox: (source, id) is kept once
            if not store.record_event(tx, event, case_id) or case_id is None or event["type"] in projection.INERT:
                return
            rebuild.refold(tx, case_id, event["data"].get("number"), self.deadlines, self.county, _now())

    @every("GAUGE_SECONDS", default=15)
    def refresh_gauges(self):
        """Business gauges for Prometheus: bounded labels (townships, colours), never a case."""
        now = _now()
        with self.db.transaction() as tx:
            open_cases, late = store.open_by_township_and_risk(tx), store.overdue_by_township(tx, now)
            oldest, last = store.oldest_open_registration(tx), store.last_event_received(tx)
        townships = [n.code for n in self.county.nodes.values() if n.level == "township"]
        counts = {(r["township"], r["risk"]): r["n"] for r in open_cases}
        for township in townships:  # every series set, none cleared: a scrape never sees half of them
            for risk in ("blue", "yellow", "red"):
                metrics.OPEN_CASES.labels(township, risk).set(counts.get((township, risk), 0))
            metrics.OVERDUE_CASES.labels(township).set(next((r["n"] for r in late if r["township"] == township), 0))
        metrics.OLDEST_OPEN_CASE.set((now - oldest).total_seconds() if oldest else 0)
        try:
            metrics.PROJECTION_WAITING.set(messaging.waiting(self.config["AMQP_URI"], f"{self.name}.project"))
        except Exception as exc:  # the broker between two connections: the next tick tells
            log.warning("could not read the depth of reporting's queue: %r", exc)
        if last:  # any replica's: the events table says when one was last taken in
            metrics.PROJECTION_LAST.set(last.timestamp())

    @every("TALLY_SECONDS", default=2)
    def keep_tallies(self):
        """Move the folds' tally deltas into the tallies; build them from the rows the first time
        (an upgraded read model), until when the indicators count the rows."""
        timezone = self.deadlines.calendar.timezone
        with self.db.transaction() as tx:
            if not store.tallies_built(tx, timezone):  # replicas: the first builds, the others find them built
                store.build_tallies(tx, timezone, _now(), unless_built=True)
        while True:
            with self.db.transaction() as tx:
                moved = store.compact_tallies(tx)
            if moved < store.COMPACT_BATCH:
                return

    # --- a case -------------------------------------------------------------------------------

    @route("GET", "/cases/<number>/timeline", roles=READERS, response_schema=TimelineSchema, personal_data=True,
           summary="A case's story: every event in order, its status, body, risk and running deadlines")
    def case_timeline(self, request, number):
        with self.db.reading() as tx:  # the row and its events as of one moment
            case = store.find_case(tx, number)
            who = principal(request)
            if case is None or not access.sees(who, self.county, case["location"], case["channel_class"]) \
                    or case["channel_class"] is None and not access.sees_discipline(who):  # not registered yet
                raise Problem(404, "Not Found", f"no case {number}")
            events = store.events_of(tx, case["case_id"])
        row, clocks = projection.fold(case["case_id"], events, self.deadlines.policies, self.deadlines.calendar,
                                      self.county)
        deadlines = projection.running_deadlines(clocks, self.deadlines.calendar, _now())
        return json_response(TimelineSchema().dump({**case, "deadlines": deadlines, "events": events}))

    # --- the county ---------------------------------------------------------------------------

    @route("GET", "/stats", roles=READERS, summary="Case counts by status", response_schema=StatsSchema)
    def stats(self, request):
        query = self._scoped(request, {})
        with self.db.transaction() as tx:
            by_status = store.counts_by_status(tx, query)
        return json_response(StatsSchema().dump({"total": sum(by_status.values()), "by_status": by_status}))

    @route("GET", "/indicators", roles=READERS, query_schema=FiltersQuery, response_schema=IndicatorsSchema,
           summary="Every indicator for a period and place, category, channel or body, with 环比 and 同比")
    def get_indicators(self, request):
        query = self._scoped(request, load_query(request, FiltersQuery()))
        first, last = self._period(query)
        periods = {"now": (first, last), "previous": _previous(first, last),
                   "last_year": (_year_before(first), _year_before(last))}
        with self.db.transaction() as tx:
            found = {k: indicators.figures(store.indicator_counts(tx, query, p, self._bounds(p), self.deadlines.calendar.timezone))
                     for k, p in periods.items()}
        return json_response(IndicatorsSchema().dump({
            "period": {k: {"from": p[0].isoformat(), "to": p[1].isoformat()} for k, p in periods.items()},
            "filters": {k: v for k, v in query.items() if k in store.FILTERS and v},
            "indicators": indicators.compared(found["now"], found["previous"], found["last_year"])}))

    @route("GET", "/backlog", roles=READERS, query_schema=FiltersQuery, response_schema=BacklogSchema,
           summary="Open cases (积案) by days since registration")
    def get_backlog(self, request):
        query = self._scoped(request, load_query(request, FiltersQuery()))
        with self.db.transaction() as tx:
            rows = store.backlog(tx, query, _now())
        buckets = {b: 0 for b in ("0-30", "31-60", "61-90", "91-180", "181-365", "365+")}
        buckets.update({r["bucket"]: r["n"] for r in rows})
        return json_response(BacklogSchema().dump({"buckets": buckets,
                                                   "oldest_days": max((r["oldest_days"] for r in rows), default=None)}))

    @route("GET", "/overdue", roles=READERS, query_schema=FiltersQuery, response_schema=OverdueSchema(many=True),
           summary="Open cases past a deadline, the longest overdue first")
    def get_overdue(self, request):
        query, now = self._scoped(request, load_query(request, FiltersQuery()), lists=True), _now()
        with self.db.transaction() as tx:
            rows = store.overdue(tx, query, now)
        return json_response(OverdueSchema(many=True).dump([{**r, "overdue": [
            {**d, "days_overdue": (now - datetime.fromisoformat(d["due_at"])).days}
            for d in r["deadlines"] if not d["paused"] and datetime.fromisoformat(d["due_at"]) < now]} for r in rows]))

    @route("GET", "/hotspots", roles=READERS, query_schema=HotspotsQuery, response_schema=HotspotsSchema,
           summary="Categories rising per place, growing repeat petitions and clusters (未诉先办 预警)")
    def get_hotspots(self, request):
        query = self._scoped(request, load_query(request, HotspotsQuery()))
        month, calendar = query["month"], self.deadlines.calendar
        start, end = (calendar.start_of_day(hotspots.first_day(hotspots.month_shift(month, k))) for k in (-12, 1))
        tz, township = calendar.timezone, query["township"]
        with self.db.transaction() as tx:
            counts = store.monthly_by_place_and_category(tx, hotspots.months_compared(month), tz, township)
            repeats = store.monthly_events_by_place(tx, "case.repeat_linked", start, end, tz, township)
            clusters = store.monthly_events_by_place(tx, "case.clustered", start, end, tz, township)
            alarms = store.open_alarms(tx, _now(), township)
        found = {"rising_categories": hotspots.categories(counts, month),
                 "repeat_petitions_growing": hotspots.growth(repeats, month),
                 "clusters_growing": hotspots.growth(clusters, month)}
        if query["village"]:  # a village's people see their village's warnings only
            found = {k: [h for h in v if h["place"] == query["village"]] for k, v in found.items()}
        return json_response(HotspotsSchema().dump({"month": month, **alarms, **found}))

    @route("GET", "/ledger.csv", roles=READERS, query_schema=FiltersQuery, summary="The ledger (台账) as CSV, of any size (streamed)")
    def ledger_csv(self, request):
        return self._ledger(request, exports.as_csv, "text/csv; charset=utf-8", "csv")

    @route("GET", "/ledger.xlsx", roles=READERS, query_schema=FiltersQuery, summary="The ledger (台账) as XLSX (one sheet: up to 1,048,575 cases)")
    def ledger_xlsx(self, request):
        return self._ledger(request, exports.as_xlsx,
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx",
                            most=exports.XLSX_ROWS)

    # --- plumbing -----------------------------------------------------------------------------

    def _scoped(self, request, query, lists=False):
        """The question narrowed to the caller's jurisdiction (a place outside it: 403); lists,
        which name cases, leave out discipline reports unless the caller is their officer."""
        who = principal(request)
        with refusals_as_problems():
            query["township"], query["village"] = access.narrow(who, self.county, query.get("township"),
                                                                query.get("village"))
        village = self.county.nodes.get(query["village"])
        if village is not None and village.level == "village":  # a village is in one township
            township = self.county.township_of(village.code).code
            if query["township"] not in (None, township):
                raise invalid({"village": f"{village.code} is a village of {township}, not of {query['township']}"})
            query["township"] = township  # (the township's indexes serve the lists)
        query["hide_discipline"] = lists and not access.sees_discipline(who)
        return query

    def _period(self, query):
        """[from, to) in county dates; this month so far by default."""
        today = self.deadlines.calendar.local_date(_now())
        first = query["from_"] or today.replace(day=1)
        last = query["to"] or max(today + timedelta(days=1), first + timedelta(days=1))
        if last <= first:
            raise invalid({"to": "must come after from (this month's first day, when from is not given)"})
        return first, last

    def _bounds(self, period):
        return tuple(self.deadlines.calendar.start_of_day(d) for d in period)

    def _ledger(self, request, render, mimetype, suffix, most=None):
        query = self._scoped(request, load_query(request, FiltersQuery()), lists=True)
        period = self._period(query)
        bounds = self._bounds(period)
        if most is not None:
            with self.db.transaction() as tx:
                size = store.ledger_size(tx, query, bounds)
            if size > most:
                raise invalid({"to": f"the ledger of this period and place holds {size} cases, more than one "
                                     f"sheet takes ({most}): narrow the period or the filters, or take the CSV"})
        name = f"ledger-{period[0]}-{period[1] - timedelta(days=1)}.{suffix}"
        with self.db.transaction() as tx:  # a failure here is still a problem response, not a cut download
            first = store.ledger_page(tx, query, bounds)
        return Response(render(self._ledger_pages(query, bounds, first), self.county), headers={
            "Content-Type": mimetype, "Content-Disposition": f'attachment; filename="{name}"'})

    def _ledger_pages(self, query, bounds, rows):
        """The ledger's rows a page at a time, each page after the first read in a transaction of
        its own as the response is sent (a long export is no snapshot: cases registered meanwhile
        may appear)."""
        while rows:
            yield rows
            with self.db.transaction() as tx:
                rows = store.ledger_page(tx, query, bounds, (rows[-1]["registered_at"], rows[-1]["number"],
                                                             rows[-1]["case_id"]))


def _previous(first, last):
    """The period before: the months before when the period is whole months (March → February),
    else as many days before."""
    if first.day == 1 and last.day == 1:
        months = (last.year - first.year) * 12 + last.month - first.month
        index = first.year * 12 + first.month - 1 - months
        return date(index // 12, index % 12 + 1, 1), first
    return first - (last - first), first


def _year_before(day):
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return date(day.year - 1, 2, 28)
