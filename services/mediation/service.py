"""Mediation (调解): opens a file when a civil dispute reaches a mediating body (or by hand),
runs its mediators, parties, sessions and paused clock, concludes it, and gives the agreement
as a PDF. Entrypoints only: the rules are in domain.py, the SQL in store.py."""
from datetime import datetime, timezone
from urllib.parse import quote

from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from fengqiao import access, deadline_store
from fengqiao.auth import STAFF
from fengqiao.county import CountyConfig, DeadlinesConfig
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.timers import every
from fengqiao.web import (
    Problem, invalid, json_response, load_body, load_query, principal, refusals_as_problems, route,
)
from services.mediation import agreement, domain, store
from services.mediation.schemas import (
    EXAMPLES, ArchiveSchema, ComplexitySchema, ConcludeSchema, FileSchema, FilesQuery, HeldSchema, MediatorsSchema,
    MonthlyCountSchema, MonthlyQuery, OpenFileSchema, PartySchema, PauseSchema, PerformanceSchema, ReasonSchema,
    SessionSchema,
)

MEDIATORS = ("mediator", "handler", "leader")


def _now():
    return datetime.now(timezone.utc)


class MediationService(BackboneService):
    name = "mediation"
    config = Config()
    county = CountyConfig()
    deadlines = DeadlinesConfig(*domain.COMPLEXITY_POLICY.values(), domain.PERFORMANCE_POLICY)

    # --- events -------------------------------------------------------------------------

    @event_handler(("intake", "case.registered"))
    def remember_case(self, event):
        """Keep what a file needs of a registered case; fill in a file opened before it came."""
        data = event["data"]
        if data.get("guided_to") or data["channel_class"] == access.DISCIPLINE:
            return  # never mediated here; a discipline report stays with the discipline commission
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            store.remember_registration(tx, {**data, "correlationid": event["correlationid"]})
            file = store.open_file_of_case(tx, data["case_id"])
            if file is not None:
                domain.fill_from_registration(file, data)
                store.save_file(tx, file)

    @event_handler(("routing", "case.assigned"))
    def open_for_assigned_dispute(self, event):
        """A civil dispute assigned to a mediating body opens a file there. A file open at another
        body ends (the case was sent up or re-routed); the new body, if it mediates, opens its own."""
        data = event["data"]
        now = _now()
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            running = store.open_file_of_case(tx, data["case_id"])
            if running is not None and running["body"] != data["body"]:
                self._record(tx, running, domain.case_left(running, f"the case was assigned to {data['body_name']}",
                                                           now), now)
            chosen = domain.kind_for_assignment(self.county, data["body"], data["co_bodies"])
            if data.get("channel_class") != "civil_dispute" or chosen is None or running is not None \
                    and running["body"] == data["body"]:
                return
            case = store.lock_case(tx, data["case_id"], data["number"], data["township"], event["correlationid"])
            self._open(tx, case, data["body"], *chosen, "ordinary", None, [], "routing", now)

    @event_handler(*[("routing", t) for t in ("case.returned", "case.resolved", "case.not_accepted", "case.closed")])
    def end_when_the_case_moves_on(self, event):
        """A case returned by its body, or resolved, refused or closed in routing, ends the file
        still open on it (one that ended in an agreement resolved the case itself)."""
        now = _now()
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            file = store.open_file_of_case(tx, event["data"]["case_id"])
            if file is not None:
                why = {"case.returned": "the case was returned by its body", "case.resolved": "the case was resolved",
                       "case.not_accepted": "the case was not accepted", "case.closed": "the case was closed"}
                self._record(tx, file, domain.case_left(file, why[event["type"]], now), now)

    @every("DEADLINE_SWEEP_SECONDS", default=5)
    def sweep_deadlines(self):
        """Reminders and overdue notices of the files' clocks, each once with several replicas."""
        with self.db.transaction() as tx:
            deadline_store.sweep(tx, _now(), self.deadlines)

    # --- commands -------------------------------------------------------------------------

    @route("POST", "/files", roles=MEDIATORS, request_schema=OpenFileSchema, example=EXAMPLES["open"], status=201,
           response_schema=FileSchema, summary="Open a mediation file by hand for a registered case (立案)")
    def open_by_hand(self, request):
        body = load_body(request, OpenFileSchema())
        now = _now()
        with self.db.transaction() as tx:
            known = store.find_case_by_number(tx, body["case"])
            if known is None or not access.sees(principal(request), self.county, known["location"] or known["township"]):
                raise invalid({"case": "no such case here (not registered, guided, or a discipline report)"})
            case = store.lock_case(tx, known["id"])
            running = store.open_file_of_case(tx, case["id"])
            if running is not None:
                raise Problem(409, "Conflict", f"file {running['number']} is in progress for this case")
            chosen = domain.kind_for_assignment(self.county, body["body"], body["joint_bodies"])
            kind = body["kind"] or (chosen and chosen[0])
            if kind is None:
                raise invalid({"kind": f"{body['body']} does not mediate by itself: name the kind"})
            with refusals_as_problems():
                file = self._open(tx, case, body["body"], kind, body["joint_bodies"], body["complexity"],
                                  body["parties"] or None, body["mediators"], principal(request).subject, now)
            view = self._view(tx, file)
        return json_response(FileSchema().dump(view), status=201, headers={"Location": f"/files/{file['number']}"})

    @route("POST", "/files/<number>/mediators", roles=MEDIATORS, request_schema=MediatorsSchema,
           example=EXAMPLES["mediators"], response_schema=FileSchema, summary="Change the mediators, with a reason")
    def change_mediators(self, request, number):
        body = load_body(request, MediatorsSchema())
        return self._command(request, number, lambda tx, file, now: domain.change_mediators(
            file, self.county, body["mediators"], body["reason"], principal(request).subject, now))

    @route("POST", "/files/<number>/parties", roles=MEDIATORS, request_schema=PartySchema, example=EXAMPLES["party"],
           response_schema=FileSchema, summary="Add a party (申请人, 被申请人, 第三人)")
    def add_party(self, request, number):
        body = load_body(request, PartySchema())
        return self._command(request, number, lambda tx, file, now: domain.add_party(
            file, body["name"], body["role"], principal(request).subject, now))

    @route("POST", "/files/<number>/complexity", roles=MEDIATORS, request_schema=ComplexitySchema,
           example=EXAMPLES["complexity"], response_schema=FileSchema,
           summary="Ordinary (5 days) or complex (15 days), with a reason; the clock keeps its start")
    def change_complexity(self, request, number):
        body = load_body(request, ComplexitySchema())

        def work(tx, file, now):
            old = domain.COMPLEXITY_POLICY[file["complexity"]]
            facts = domain.change_complexity(file, body["complexity"], body["reason"], principal(request).subject, now)
            new = self.deadlines.policies[domain.COMPLEXITY_POLICY[file["complexity"]]]
            deadline_store.switch(tx, file["id"], old, new, self.deadlines.calendar, now)
            return facts
        return self._command(request, number, work)

    @route("POST", "/files/<number>/sessions", roles=MEDIATORS, request_schema=SessionSchema, status=201,
           example=EXAMPLES["session"], response_schema=FileSchema, summary="Schedule a session (调解会)")
    def schedule_session(self, request, number):
        body = load_body(request, SessionSchema())
        return self._command(request, number, lambda tx, file, now: domain.schedule_session(
            file, body["at"], body["place"], body["mediators"] or [], body["parties"], principal(request).subject,
            now)[1], status=201)

    @route("POST", "/files/<number>/sessions/<session_id>/held", roles=MEDIATORS, request_schema=HeldSchema,
           example=EXAMPLES["held"], response_schema=FileSchema, summary="Record a session held: attendance, minutes")
    def hold_session(self, request, number, session_id):
        body = load_body(request, HeldSchema())
        return self._command(request, number, lambda tx, file, now: domain.hold_session(
            file, session_id, body["attendance"], body["minutes"], principal(request).subject, now))

    @route("POST", "/files/<number>/sessions/<session_id>/cancel", roles=MEDIATORS, request_schema=ReasonSchema,
           example=EXAMPLES["reason"], response_schema=FileSchema, summary="Cancel a scheduled session")
    def cancel_session(self, request, number, session_id):
        body = load_body(request, ReasonSchema())
        return self._command(request, number, lambda tx, file, now: domain.cancel_session(
            file, session_id, body["reason"], principal(request).subject, now))

    @route("POST", "/files/<number>/pause", roles=MEDIATORS, request_schema=PauseSchema, example=EXAMPLES["pause"],
           response_schema=FileSchema, summary="Pause the clock for an appraisal, evaluation or hearing")
    def pause(self, request, number):
        body = load_body(request, PauseSchema())
        return self._command(request, number, lambda tx, file, now: domain.pause(
            file, body["reason"], body["note"], principal(request).subject, now))

    @route("POST", "/files/<number>/resume", roles=MEDIATORS, response_schema=FileSchema,
           summary="Resume the clock; the paused time is credited to the deadline")
    def resume(self, request, number):
        return self._command(request, number, lambda tx, file, now: domain.resume(file, principal(request).subject, now))

    @route("POST", "/files/<number>/conclude", roles=MEDIATORS, request_schema=ConcludeSchema,
           example=EXAMPLES["conclude"], response_schema=FileSchema,
           summary="Conclude: agreement (terms), no agreement (the lawful route), or withdrawn")
    def conclude(self, request, number):
        body = load_body(request, ConcludeSchema())

        def work(tx, file, now):
            facts = domain.conclude(file, self.county, body["outcome"], self.deadlines.calendar.local_date(now), now,
                                    principal(request).subject, body["facts"], body["terms"],
                                    body["judicial_confirmation"], body["guided_to"], body["note"])
            due = domain.performance_due(file)
            if due is not None:  # from the end of the agreed date, ask whether it was kept
                calendar = self.deadlines.calendar
                deadline_store.start(tx, self.deadlines.policies[domain.PERFORMANCE_POLICY], self._owner(file),
                                     calendar.end_of_day(due), calendar, self._context(file))
            return facts
        return self._command(request, number, work)

    @route("POST", "/files/<number>/performance", roles=MEDIATORS, request_schema=PerformanceSchema,
           example=EXAMPLES["performance"], response_schema=FileSchema,
           summary="Record whether the agreement was kept (协议履行回访)")
    def check_performance(self, request, number):
        body = load_body(request, PerformanceSchema())
        return self._command(request, number, lambda tx, file, now: domain.check_performance(
            file, body["kept"], body["note"], principal(request).subject, now))

    # --- queries --------------------------------------------------------------------------

    @route("GET", "/files", roles=STAFF,
           query_schema=FilesQuery, personal_data=True, response_schema=FileSchema(many=True),
           summary="Files by case, body, mediator or status, newest first")
    def list_files(self, request):
        query = load_query(request, FilesQuery())
        with self.db.transaction() as tx:
            places = access.places_within(principal(request), self.county)
            bodies = None if places is None else [b.code for b in self.county.bodies.values() if b.node in places]
            files = store.list_files(tx, (places, bodies), query["case"], query["body"], query["mediator"],
                                     query["status"])
            return json_response(FileSchema(many=True).dump([self._view(tx, f) for f in files]))

    @route("GET", "/files/<number>", roles=STAFF,
           response_schema=FileSchema, personal_data=True, summary="A file with its clocks")
    def get_file(self, request, number):
        with self.db.transaction() as tx:
            return json_response(FileSchema().dump(self._view(tx, self._visible(request, number, store.find_file(tx, number)))))

    @route("GET", "/files/<number>/archive", roles=STAFF, response_schema=ArchiveSchema, personal_data=True,
           summary="The file's whole record as one document: registration, sessions, outcome, performance")
    def archive(self, request, number):
        with self.db.transaction() as tx:
            file = self._visible(request, number, store.find_file(tx, number))
            case = store.find_case(tx, file["case_id"])
            return json_response(ArchiveSchema().dump({
                "file": self._view(tx, file), "case": dict(case), "archived_at": _now().isoformat(),
                "deadlines": deadline_store.active(tx, file["id"], include_stopped=True)}))

    @route("GET", "/files/<number>/agreement.pdf", roles=STAFF,
           personal_data=True, summary="The agreement (调解协议书) as a PDF")
    def agreement_pdf(self, request, number):
        with self.db.transaction() as tx:
            file = self._visible(request, number, store.find_file(tx, number))
        if (file["outcome"] or {}).get("outcome") != "agreement":
            raise Problem(409, "Conflict", f"file {number} was not concluded with an agreement")
        names = [p.name if (p := self.county.person(m)) else m for m in file["mediators"]]
        signed_on = self.deadlines.calendar.local_date(datetime.fromisoformat(file["concluded_at"]))
        try:
            pdf = agreement.render(file, names, signed_on, self.config["CJK_FONT"])
        except agreement.FontMissing as exc:
            raise Problem(503, "Service Unavailable", str(exc))
        disposition = f"attachment; filename*=UTF-8''{quote(file['number'] + '-调解协议书.pdf')}"
        return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": disposition})

    @route("GET", "/mediators/monthly", roles=STAFF,
           query_schema=MonthlyQuery, response_schema=MonthlyCountSchema(many=True),
           summary="Each mediator's concluded files and success rate in a month (以案补贴)")
    def monthly_counts(self, request):
        query = load_query(request, MonthlyQuery())
        year, month = map(int, query["month"].split("-"))
        with self.db.transaction() as tx:
            rows = store.concluded_between(tx, *self.deadlines.calendar.month_bounds(year, month), query["body"])
        counts = domain.monthly_counts(rows)
        for c in counts:
            person = self.county.person(c["mediator"])
            c.update(name=person and person.name, body=person and person.body)
        return json_response(MonthlyCountSchema(many=True).dump(counts))

    # --- plumbing -------------------------------------------------------------------------

    def _pick(self, tx, bodies, count):
        """The least loaded mediators of the bodies (their open files counted now)."""
        candidates = [m.id for b in bodies for m in self.county.mediators_of(b)]
        return domain.pick_mediators(self.county, bodies, store.open_load(tx, candidates), count)

    def _open(self, tx, case, body_code, kind, joint_bodies, complexity, parties, mediators, by, now):
        """Open a file (the case row locked) and start its clock."""
        mediators = mediators or self._pick(tx, [body_code, *joint_bodies], domain.mediator_count(complexity))
        if parties is None:
            parties = domain.applicants_of(case["petitioners"])
        file, facts = domain.open_file(dict(case), store.next_file_number(tx, case), self.county, body_code, kind,
                                       complexity, joint_bodies, parties, mediators, by, now)
        store.insert_file(tx, file)
        policy = self.deadlines.policies[domain.COMPLEXITY_POLICY[complexity]]
        deadline_store.start(tx, policy, self._owner(file), now, self.deadlines.calendar, self._context(file))
        self._record(tx, file, facts, now)
        return file

    def _command(self, request, number, work, status=200):
        """One command as one unit of work: lock the file (one outside the caller's jurisdiction
        is not found), let the domain decide, record the facts and their clocks; refusals as
        problems (400 by field, 404, 409 with why)."""
        now = _now()
        with refusals_as_problems(), self.db.transaction() as tx:
            file = self._visible(request, number, store.lock_file(tx, number))
            self._record(tx, file, work(tx, file, now), now)
            view = self._view(tx, file)
        return json_response(FileSchema().dump(view), status=status)

    def _record(self, tx, file, facts, now):
        store.save_file(tx, file)
        for f in facts:
            tx.emit(f.type, f.data, subject=str(file["case_id"]), correlationid=file["correlationid"])
            deadline_store.apply_event(tx, self.deadlines.policies, self.deadlines.calendar, self._owner(file),
                                       f.type, now, self._context(file))
        deadline_store.set_context(tx, file["id"], self._context(file))  # notices name today's mediators

    def _owner(self, file):
        return {"id": file["id"], "number": file["case_number"], "township": file["township"],
                "correlationid": file["correlationid"]}

    def _context(self, file):
        return {"case_id": str(file["case_id"]), "file_number": file["number"], "body": file["body"],
                "mediators": file["mediators"]}

    def _visible(self, request, number, file):
        """The file, if the caller's jurisdiction holds its case's place or the mediating body's
        (a file opened before the case's registration arrived knows only its township)."""
        who = principal(request)
        if file is None or not (access.sees(who, self.county, file.get("location") or file["township"])
                                or access.sees(who, self.county, self._node_of(file["body"]))):
            raise Problem(404, "Not Found", f"no mediation file {number}")
        return file

    def _node_of(self, body_code):
        body = self.county.bodies.get(body_code)
        return body and body.node

    def _view(self, tx, file):
        return {**file, "deadlines": deadline_store.active(tx, file["id"])}

