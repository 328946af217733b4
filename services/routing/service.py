"""Routing (分流交办): routes each registered case by the rules, then carries its handling from
signing to closure, watches its deadlines and escalates what stalls. Entrypoints only: the
rules are in rules.py and domain.py, the SQL in store.py."""
from datetime import datetime, timezone

from fengqiao import access, deadline_store
from fengqiao.auth import STAFF
from fengqiao.county import CountyConfig, DeadlinesConfig, ReloadingFile
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.timers import every
from fengqiao.web import (
    Problem, is_uuid, json_response, load_body, load_query, principal, refusals_as_problems, route,
)
from services.routing import domain, store
from services.routing import rules as routing_rules
from services.routing.schemas import (
    EXAMPLES, FINISHED, AssignSchema, CaseSchema, ConsultSchema, ExplanationSchema, ExtendSchema, FollowUpSchema,
    NotAcceptSchema, QueueItemSchema, QueueQuery, ReasonSchema, ResolveSchema, ReviewDecisionSchema, RiskSchema,
    WhistleReportSchema, WhistleSchema,
)

HANDLERS = ("handler", "leader")


def _now():
    return datetime.now(timezone.utc)


class RoutingService(BackboneService):
    name = "routing"
    county = CountyConfig()
    rules = ReloadingFile("RULES_FILE", routing_rules.load, "rules")
    deadlines = DeadlinesConfig("handling", "whistle_report")  # the policies routing names

    # --- events -------------------------------------------------------------------------

    @event_handler(("intake", "case.registered"))
    def assign_case(self, event):
        data = event["data"]
        if data.get("guided_to"):
            return  # guided at the window to court, arbitration or review: no body of ours takes it
        now = _now()
        case = domain.new_case(data, datetime.fromisoformat(data["registered_at"]))
        case["correlationid"] = event["correlationid"]
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            for repeat in store.take_early_repeats(tx, case["id"]):  # they overtook the registration
                domain.repeat_petition(case, self.county, self.rules, repeat["repeat_count"], repeat["petitioners"], now)
            try:
                facts = domain.reassess_risk(case, self.county, self.rules, now)  # the rules look at the colour
                facts += domain.assign(case, routing_rules.route(self.county, self.rules, case), now)
            except routing_rules.NoRoute as exc:
                facts = domain.unroutable(case, str(exc), now)
            if not store.insert_case(tx, case):
                return
            self._started(tx, case, "case.registered", case["registered_at"])
            self._record(tx, case, facts, now)

    @event_handler(("intake", "case.repeat_linked"))
    def count_repeat(self, event):
        """A repeat petition raises the count, maybe the number of petitioners, and so the risk."""
        now = _now()
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            data = event["data"]
            case = store.lock_case_by_id(tx, data["case_id"])
            if case is None:  # its registration is still on its way (another queue), or it was guided
                store.hold_early_repeat(tx, data["case_id"], data["repeat_count"], len(data["petitioners"]))
                return
            self._record(tx, case, domain.repeat_petition(case, self.county, self.rules, data["repeat_count"],
                                                          len(data["petitioners"]), now), now)

    @event_handler(("mediation", "mediation.opened"), ("mediation", "mediation.concluded"))
    def follow_mediation(self, event):
        """A file opened by the owning body signs for the case; its conclusion resolves the case
        or sends it on (domain.mediation_concluded)."""
        now = _now()
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            case = store.lock_case_by_id(tx, event["data"]["case_id"])
            if case is None:
                return
            if event["type"] == "mediation.opened":
                facts = domain.mediation_opened(case, event["data"], now)
            else:
                facts = domain.mediation_concluded(case, self.county, event["data"], now)
            self._record(tx, case, facts, now)

    @every("DEADLINE_SWEEP_SECONDS", default=5)
    def sweep_deadlines(self):
        """Reminders and overdue notices, each once even with several replicas (rows claimed
        with SKIP LOCKED); a first missed deadline escalates the case one tier and raises risk."""
        now = _now()
        with self.db.transaction() as tx:
            deadline_store.sweep(tx, now, self.deadlines, react=lambda due: self._missed(tx, due, now))

    def _missed(self, tx, due, now):
        if due.kind != "overdue" or not due.first:
            return
        deadline = due.deadline
        case = store.lock_case(tx, deadline["owner_number"], nowait=True)  # never wait holding deadline rows
        if case is None:
            return
        whistle = store.lock_whistle(tx, deadline["owner_id"], nowait=True) if deadline["policy"] == "whistle_report" else None
        facts = domain.deadline_missed(case, self.county, self.rules, deadline["policy"], due.data["due_at"], now, whistle)
        if whistle is not None:
            store.save_whistle(tx, whistle)
        self._record(tx, case, facts, now)

    # --- commands -------------------------------------------------------------------------

    @route("POST", "/cases/<number>/sign", roles=HANDLERS, summary="The lead body signs for the case (签收)",
           response_schema=CaseSchema)
    def sign(self, request, number):
        return self._command(request, number, lambda tx, case, now: domain.sign(case, principal(request), now))

    @route("POST", "/cases/<number>/return", roles=HANDLERS, request_schema=ReasonSchema, example=EXAMPLES["return"],
           summary="The lead body returns the case with its reason (退回)", response_schema=CaseSchema)
    def return_case(self, request, number):
        body = load_body(request, ReasonSchema())
        return self._command(request, number, lambda tx, case, now: domain.return_case(
            case, self.county, body["reason"], principal(request), now))

    @route("POST", "/cases/<number>/assign", roles=("clerk", "leader"), request_schema=AssignSchema,
           example=EXAMPLES["assign"], response_schema=CaseSchema,
           summary="The dispatcher re-routes a returned case; after two returns, the governance-center leader")
    def reassign(self, request, number):
        body = load_body(request, AssignSchema())
        return self._command(request, number, lambda tx, case, now: domain.reassign(
            case, self.county, body["body"], body["reason"], principal(request), now))

    @route("POST", "/cases/<number>/accept", roles=HANDLERS, response_schema=CaseSchema,
           summary="Accept the case (受理); the handling deadline starts")
    def accept(self, request, number):
        return self._command(request, number, lambda tx, case, now: domain.accept(case, principal(request), now))

    @route("POST", "/cases/<number>/not-accept", roles=HANDLERS, request_schema=NotAcceptSchema,
           example=EXAMPLES["not_accept"], response_schema=CaseSchema,
           summary="Do not accept the case, naming the lawful route it belongs to (不予受理)")
    def not_accept(self, request, number):
        body = load_body(request, NotAcceptSchema())
        return self._command(request, number, lambda tx, case, now: domain.not_accept(
            case, self.county, body["reason"], body["lawful_route"], principal(request), now))

    @route("POST", "/cases/<number>/extend", roles=("leader",), request_schema=ExtendSchema,
           example=EXAMPLES["extend"], response_schema=CaseSchema,
           summary="Extend the handling deadline once, by at most 30 days (延期)")
    def extend(self, request, number):
        body = load_body(request, ExtendSchema())
        max_days = self.deadlines.policies["handling"].max_extension_days

        def work(tx, case, now):
            facts = domain.extend(case, self.county, body["days"], max_days, body["approver"], body["reason"], now)
            deadline_store.extend(tx, case["id"], "handling", body["days"], self.deadlines.calendar)
            return facts
        return self._command(request, number, work)

    @route("POST", "/cases/<number>/suspend", roles=HANDLERS, request_schema=ReasonSchema, response_schema=CaseSchema,
           example=EXAMPLES["reason"], summary="Suspend handling (中止); the handling clock pauses")
    def suspend(self, request, number):
        body = load_body(request, ReasonSchema())
        return self._command(request, number, lambda tx, case, now: domain.suspend(case, body["reason"], now))

    @route("POST", "/cases/<number>/resume", roles=HANDLERS, response_schema=CaseSchema,
           summary="Resume handling; the paused time is credited to the deadline")
    def resume(self, request, number):
        return self._command(request, number, lambda tx, case, now: domain.resume(case, now))

    @route("POST", "/cases/<number>/consultations", roles=HANDLERS, request_schema=ConsultSchema,
           example=EXAMPLES["consult"], response_schema=CaseSchema,
           summary="Record a joint consultation (联席会议): who attended, what was decided")
    def consult(self, request, number):
        body = load_body(request, ConsultSchema())
        return self._command(request, number, lambda tx, case, now: domain.consult(
            case, self.county, principal(request).subject, body["bodies"], body["attendees"], body["decision"], now))

    @route("POST", "/cases/<number>/resolve", roles=HANDLERS, request_schema=ResolveSchema,
           example=EXAMPLES["resolve"], response_schema=CaseSchema,
           summary="Resolve the case (办结) with its outcome (三到位一处理) and written reply")
    def resolve(self, request, number):
        body = load_body(request, ResolveSchema())
        return self._command(request, number, lambda tx, case, now: domain.resolve(
            case, body["outcome"], body["reply"], principal(request), now))

    @route("POST", "/cases/<number>/follow-up", roles=("clerk", "handler"), request_schema=FollowUpSchema,
           example=EXAMPLES["follow_up"], response_schema=CaseSchema,
           summary="Record the follow-up visit (回访) and the petitioner's rating")
    def follow_up(self, request, number):
        body = load_body(request, FollowUpSchema())
        return self._command(request, number, lambda tx, case, now: domain.follow_up(
            case, body["rating"], body["note"], principal(request), now))

    @route("POST", "/cases/<number>/review-request", roles=("clerk",), request_schema=ReasonSchema,
           example=EXAMPLES["reason"], response_schema=CaseSchema,
           summary="An unsatisfied petitioner asks for a review (复查), then a re-review (复核)")
    def request_review(self, request, number):
        body = load_body(request, ReasonSchema())
        return self._command(request, number, lambda tx, case, now: domain.request_review(case, body["reason"], now))

    @route("POST", "/cases/<number>/review-decision", roles=("leader",), request_schema=ReviewDecisionSchema,
           example=EXAMPLES["review_decision"], response_schema=CaseSchema,
           summary="The next level up decides the review: upheld, or redo (reopened)")
    def decide_review(self, request, number):
        body = load_body(request, ReviewDecisionSchema())
        return self._command(request, number, lambda tx, case, now: domain.decide_review(
            case, body["decision"], body["reply"], principal(request), now))

    @route("POST", "/cases/<number>/close", roles=("clerk", "leader"), response_schema=CaseSchema,
           summary="Close the case (结案)")
    def close(self, request, number):
        return self._command(request, number, lambda tx, case, now: domain.close(case, now))

    @route("POST", "/cases/<number>/risk", roles=("handler", "leader", "supervisor"), request_schema=RiskSchema,
           example=EXAMPLES["risk"], response_schema=CaseSchema,
           summary="Set the risk colour by hand, with a reason")
    def set_risk(self, request, number):
        body = load_body(request, RiskSchema())
        return self._command(request, number, lambda tx, case, now: domain.reassess_risk(
            case, self.county, self.rules, now, by=principal(request).subject, level=body["level"],
            reason=body["reason"]))

    @route("POST", "/cases/<number>/escalate", roles=HANDLERS, request_schema=ReasonSchema,
           example=EXAMPLES["reason"], response_schema=CaseSchema,
           summary="Send the case up a tier (上报): beyond this level's authority")
    def escalate(self, request, number):
        body = load_body(request, ReasonSchema())
        return self._command(request, number, lambda tx, case, now: domain.escalate(
            case, self.county, self.rules, body["reason"], now, by=principal(request).subject))

    @route("POST", "/cases/<number>/whistles", roles=HANDLERS, request_schema=WhistleSchema, status=201,
           example=EXAMPLES["whistle"], response_schema=CaseSchema,
           summary="Blow the whistle (吹哨): the bodies named must report within the window")
    def raise_whistle(self, request, number):
        body = load_body(request, WhistleSchema())

        def work(tx, case, now):
            whistle, facts = domain.raise_whistle(case, self.county, body["bodies"], body["reason"],
                                                  principal(request), now)
            store.insert_whistle(tx, whistle)
            deadline_store.start(tx, self.deadlines.policies["whistle_report"], self._owner(case, whistle["id"]),
                                 now, self.deadlines.calendar, {"case_id": str(case["id"]), "bodies": body["bodies"]})
            return facts
        return self._command(request, number, work, status=201)

    @route("POST", "/cases/<number>/whistles/<whistle_id>/report", roles=HANDLERS, request_schema=WhistleReportSchema,
           example=EXAMPLES["whistle_report"], response_schema=CaseSchema,
           summary="A named body reports (报到) to the whistle: its own staff, or a leader on its behalf")
    def report_to_whistle(self, request, number, whistle_id):
        body = load_body(request, WhistleReportSchema())

        def work(tx, case, now):
            whistle = self._whistle_of(tx, case, whistle_id)
            facts = domain.answer_whistle(case, self.county, whistle, body["body"], principal(request), now)
            store.save_whistle(tx, whistle)
            if whistle["status"] == "answered":
                deadline_store.stop(tx, whistle["id"], "whistle_report", now)
            return facts
        return self._command(request, number, work)

    # --- queries --------------------------------------------------------------------------

    @route("GET", "/cases", roles=STAFF, query_schema=QueueQuery, response_schema=QueueItemSchema(many=True),
           summary="A desk's queue (待办): open cases, red first, then by the deadline due first")
    def list_cases(self, request):
        query = load_query(request, QueueQuery())
        scope = access.sql_filter(principal(request), self.county, "c.location", "c.record->>'channel_class'")
        with self.db.reading() as tx:  # the cases and their deadlines as of one moment
            cases = store.queue(tx, scope, FINISHED, query["body"], query["status"], query["risk"], query["limit"])
            running = deadline_store.active_of(tx, [c["id"] for c in cases])  # one query, not one per case
            items = [{**c, "registered_at": c["registered_at"].isoformat(),
                      "deadlines": running.get(str(c["id"]), [])} for c in cases]
        return json_response(QueueItemSchema(many=True).dump(items))

    @route("GET", "/cases/<number>", roles=STAFF,
           personal_data=True, summary="A case's handling: status, bodies, risk, deadlines, why",
           response_schema=CaseSchema)
    def get_case(self, request, number):
        return json_response(CaseSchema().dump(self._read(request, number)[1]))

    @route("GET", "/cases/<number>/explanation", roles=STAFF, response_schema=ExplanationSchema,
           summary="Why the rules route the case as they do: each rule, each condition; changes nothing")
    def explain(self, request, number):
        case, _ = self._read(request, number)
        decision, trail = routing_rules.explain(self.county, self.rules, case)
        return json_response(ExplanationSchema().dump({
            "number": number, "rules": trail,
            "recorded": {k: case.get(k) for k in ("rule", "reason", "body", "co_bodies", "tier")},
            "decision": decision and {"rule": decision.rule, "reason": decision.reason, "lead": decision.lead.code,
                                      "co": [b.code for b in decision.co], "tier": decision.tier}}))

    # --- plumbing -------------------------------------------------------------------------

    def _command(self, request, number, work, status=200):
        """One command as one unit of work: lock the case (one outside the caller's jurisdiction
        is not found), let the domain decide, record the facts and their deadlines; refusals as
        problems (400 by field, 404, 409 with why)."""
        now = _now()
        with refusals_as_problems(), self.db.transaction() as tx:
            case = store.lock_case(tx, number)
            self._visible(request, number, case)
            self._record(tx, case, work(tx, case, now), now)
            view = self._view(tx, case)
        return json_response(CaseSchema().dump(view), status=status)

    def _record(self, tx, case, facts, now):
        """Save the case, publish its facts through the outbox, and start, pause or stop the
        deadlines the facts concern."""
        store.save_case(tx, case)
        for f in facts:
            tx.emit(f.type, f.data, subject=str(case["id"]), correlationid=case["correlationid"])
            self._started(tx, case, f.type, now)
        deadline_store.set_context(tx, case["id"], self._context(case))  # notices name the body that has it now
        for whistle in domain.close_whistles(case, store.open_whistles(tx, case["id"]), now):
            store.save_whistle(tx, whistle)
            deadline_store.stop(tx, whistle["id"], "whistle_report", now)

    def _started(self, tx, case, event_type, at):
        deadline_store.apply_event(tx, self.deadlines.policies, self.deadlines.calendar, self._owner(case),
                                   event_type, at, self._context(case))

    def _context(self, case):
        return {"case_id": str(case["id"]), "body": case.get("body")}

    def _owner(self, case, owner_id=None):
        return {"id": owner_id or case["id"], "number": case["number"], "township": case["township"],
                "correlationid": case["correlationid"]}

    def _whistle_of(self, tx, case, whistle_id):
        whistle = store.lock_whistle(tx, whistle_id) if is_uuid(whistle_id) else None
        if whistle is None or whistle["case_id"] != case["id"]:
            raise Problem(404, "Not Found", f"no whistle {whistle_id} on case {case['number']}")
        return whistle

    def _view(self, tx, case):
        return {**case, "deadlines": deadline_store.active(tx, case["id"]), "whistles": store.whistles_of(tx, case["id"])}

    def _read(self, request, number):
        with self.db.reading() as tx:  # the case and its deadlines as of one moment
            case = store.find_case(tx, number)
            self._visible(request, number, case)
            return case, self._view(tx, case)

    def _visible(self, request, number, case):
        if case is None or not access.sees(principal(request), self.county, case["location"], case["channel_class"]):
            raise Problem(404, "Not Found", f"no case {number}")

