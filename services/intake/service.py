"""Intake (登记): the one front door where every channel registers a case."""
from datetime import datetime, timezone

from marshmallow import ValidationError
from psycopg.errors import UniqueViolation
from werkzeug.exceptions import RequestEntityTooLarge

from fengqiao import access
from fengqiao.auth import STAFF
from fengqiao.county import CountyConfig
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.web import (
    Problem, invalid, json_response, load_body, load_query, note_for_audit, principal, refusals_as_problems, route,
)
from services.intake import domain, guide, ledger, open311, reception, reception_store, registration, store
from services.intake.dependencies import PersonalDataVault
from services.intake.open311_web import json_only, load_call, load_form, open311_route
from services.intake.schemas import (
    APPOINTMENT_EXAMPLE, OPEN311_REQUEST_EXAMPLE, RECEPTION_EXAMPLE, REGISTRATION_EXAMPLE, AppointmentRequestSchema,
    AppointmentSchema, CaseRegistrationSchema, CaseSchema, ClusterSchema, ClustersQuery, ContactSchema,
    GuideEntrySchema, GuideQuery, LedgerImportQuerySchema, LedgerReportSchema, Open311CreatedSchema, Open311Query,
    Open311RequestForm, Open311RequestsQuery, Open311ServiceDefinitionSchema, Open311ServiceRequestSchema,
    Open311ServiceSchema, ReceptionPublicationSchema, ReceptionSchema, REPEAT_CHECK_EXAMPLE, RegisteredCaseSchema,
    RepeatCheckResultSchema, RepeatCheckSchema, RosterQuery,
)


class IntakeService(BackboneService):
    name = "intake"
    county = CountyConfig()
    vault = PersonalDataVault()

    @route("POST", "/cases", roles=("clerk", "operator"), status=201, summary="Register a case",
           request_schema=CaseRegistrationSchema, response_schema=RegisteredCaseSchema,
           example=REGISTRATION_EXAMPLE,
           also={200: "no new case: the same Idempotency-Key or hotline order again, or a repeat petition"
                      " linked to its case"})
    def register_case(self, request):
        result = self._registered(request, load_body(request, CaseRegistrationSchema()))
        created = result["outcome"] == "registered"
        return json_response(RegisteredCaseSchema().dump(result), status=201 if created else 200,
                             headers={"Location": f"/cases/{result['number']}"})

    def _registered(self, request, payload):
        """Register at a place within the caller's jurisdiction, as the request's headers say."""
        self._within_scope(request, payload["location"])
        headers = (request.headers.get("X-Correlation-ID"), request.headers.get("Idempotency-Key"))
        try:
            return self._register(payload, *headers)
        except UniqueViolation:  # the same hotline order or request, registered at this very moment
            return self._register(payload, *headers)

    def _register(self, payload, correlationid, idempotency_key):
        try:
            with self.db.transaction() as tx:
                return registration.register(tx, self.county, self.vault, payload, correlationid, idempotency_key)
        except domain.Rejected as exc:
            raise invalid(exc.errors)

    @route("POST", "/cases/repeat-check", roles=("clerk", "operator"), request_schema=RepeatCheckSchema,
           response_schema=RepeatCheckResultSchema, example=REPEAT_CHECK_EXAMPLE, personal_data=True,
           summary="Before registering: would these people's petition on this matter be linked to a case of the"
                   " repeat window (查重)? Only cases you may see count. Changes nothing; POST keeps ID numbers"
                   " out of URLs and logs")
    def check_repeat(self, request):
        probe = load_body(request, RepeatCheckSchema())
        self._within_scope(request, probe["location"])
        try:
            with self.db.reading() as tx:
                people, earlier = registration.repeat_of(tx, self.county, self.vault, probe,
                                                         datetime.now(timezone.utc))
        except domain.Rejected as exc:
            raise invalid(exc.errors)
        # A case the caller may not see is not told of, not even that it exists: a clerk must
        # not learn by asking who filed a discipline report (纪检举报).
        if earlier is not None and not access.sees(principal(request), self.county, earlier["location"],
                                                   earlier["channel_class"]):
            earlier = None
        note_for_audit(request, people=people, shown=earlier and earlier["number"])
        return json_response(RepeatCheckResultSchema().dump({"repeat": earlier is not None, "case": earlier}))

    @route("GET", "/guide", roles=STAFF, summary="Which lawful route applies to a kind of matter (导访)",
           query_schema=GuideQuery, response_schema=GuideEntrySchema(many=True))
    def lawful_route_guide(self, request):
        category = load_query(request, GuideQuery())["category"]
        if category is not None and category not in self.county.categories:
            raise invalid({"category": f"unknown category; known: {', '.join(self.county.categories)}"})
        entries = guide.catalogue(self.county) if category is None else [guide.guidance(self.county, category)]
        return json_response(GuideEntrySchema(many=True).dump(entries))

    @route("GET", "/clusters", roles=STAFF, summary="Problem clusters (举一反三) with their cases, largest first",
           query_schema=ClustersQuery, response_schema=ClusterSchema(many=True))
    def problem_clusters(self, request):
        query = load_query(request, ClustersQuery())
        scope = access.sql_filter(principal(request), self.county, "c.location", "c.channel_class")
        return json_response(ClusterSchema(many=True).dump(store.clusters(self.db, scope, **query)))

    @route("POST", "/cases/import", roles=("clerk", "operator"), summary=ledger.SUMMARY,
           query_schema=LedgerImportQuerySchema, response_schema=LedgerReportSchema)
    def import_ledger(self, request):
        """The body is the file (text/csv or XLSX), or a multipart form with a `file` field."""
        query = load_query(request, LedgerImportQuerySchema())
        who = principal(request)
        try:
            township = ledger.township_of_import(self.county, who.scope, query["township"])
            data, declared = self._ledger_upload(request)
            sheet = ledger.read(data, query["format"] or declared)
        except ledger.Refused as exc:
            raise Problem(exc.status, exc.title, exc.detail, exc.errors)
        report = ledger.import_rows(sheet, self.county, township, self.vault.fingerprint, self._register_ledger_row)
        with self.db.transaction() as tx:
            report["import_id"] = ledger.record_import(
                tx, report, who.subject, ledger.file_fingerprint(self.vault.fingerprint, data))
        return json_response(LedgerReportSchema().dump(report))

    def _ledger_upload(self, request):
        """The uploaded bytes and the format its content type or file name declares."""
        request.max_content_length = ledger.MAX_UPLOAD_BYTES + 64 * 1024  # room for multipart framing
        try:
            if request.mimetype != "multipart/form-data":
                return request.get_data(), ledger.format_of(request.mimetype)
            upload = request.files.get("file")
            if upload is None:
                raise ledger.Refused(400, "Invalid request", "the form has no `file` field",
                                     [{"field": "file", "message": "missing"}])
            return upload.read(), ledger.format_of(upload.mimetype, upload.filename)
        except RequestEntityTooLarge:
            raise ledger.Refused(413, "Ledger too large", f"a ledger file may hold at most"
                                 f" {ledger.MAX_UPLOAD_BYTES // 2**20} MB; split it and import the parts")

    def _register_ledger_row(self, payload, idempotency_key):
        """One row, one transaction: a bad row never holds back the good ones."""
        try:
            with self.db.transaction() as tx:
                return registration.register(tx, self.county, self.vault, payload, None, idempotency_key)
        except UniqueViolation:  # the same row imported at this very moment: the retry finds its case
            with self.db.transaction() as tx:
                return registration.register(tx, self.county, self.vault, payload, None, idempotency_key)

    @route("GET", "/cases/<number>", roles=STAFF,
           summary="A registered case, personal data masked", response_schema=CaseSchema,
           personal_data=True)
    def get_case(self, request, number):
        case = store.find_case(self.db, number)
        if case is None or not access.sees(principal(request), self.county, case["location"], case["channel_class"]):
            raise Problem(404, "Not Found", f"no case {number}")
        return json_response(CaseSchema().dump(case))

    @route("GET", "/cases/<number>/contacts", roles=("service",), response_schema=ContactSchema(many=True),
           personal_data=True,
           summary="The petitioners' phones, unsealed, for notify at the moment it sends (service token only)")
    def petitioner_contacts(self, request, number):
        sealed = store.sealed_contacts(self.db, number)
        if sealed is None:
            raise Problem(404, "Not Found", f"no case {number}")
        try:
            contacts = [{"position": p["position"], "phone": self.vault.decrypt(p["phone_sealed"])}
                        for p in sealed if p["phone_sealed"]]
        except ValueError:  # sealed with a key no longer configured
            raise Problem(503, "Service Unavailable", "personal data cannot be unsealed with the configured keys")
        return json_response(ContactSchema(many=True).dump(contacts))

    # --- Leader reception days (领导坐班接访): the roster and its appointments (预约) ---

    @route("POST", "/receptions", roles=("clerk", "operator", "leader"), status=201,
           summary="Publish a leader's reception session (接访安排) on its township's roster",
           request_schema=ReceptionPublicationSchema, response_schema=ReceptionSchema, example=RECEPTION_EXAMPLE)
    def publish_reception(self, request):
        payload = load_body(request, ReceptionPublicationSchema())
        self._within_scope(request, payload["township"])
        session = self._on_roster(lambda tx, now: reception.publish(tx, self.county, payload, now))
        return json_response(ReceptionSchema().dump(reception.session_view(self.county, session)), status=201)

    @route("GET", "/receptions", roles=STAFF, summary="A township's roster of reception days, with the places left",
           query_schema=RosterQuery, response_schema=ReceptionSchema(many=True))
    def reception_roster(self, request):
        query = load_query(request, RosterQuery())
        try:
            window = reception.roster_window(self.county, query, datetime.now(timezone.utc))
        except domain.Rejected as exc:
            raise invalid(exc.errors)
        sessions = reception_store.roster(self.db, *window)
        return json_response(ReceptionSchema(many=True).dump(
            [reception.session_view(self.county, s, s["booked"]) for s in sessions]))

    @route("POST", "/receptions/<reception_id>/appointments", roles=("clerk", "operator"), status=201,
           summary="Book an appointment (预约) with the leader on duty; 409 when full, over or booked already",
           request_schema=AppointmentRequestSchema, response_schema=AppointmentSchema, example=APPOINTMENT_EXAMPLE)
    def book_appointment(self, request, reception_id):
        payload = load_body(request, AppointmentRequestSchema())
        appointment = self._on_roster(
            lambda tx, now: reception.book(tx, self.vault, reception.parse_id(reception_id), payload, now))
        return json_response(AppointmentSchema().dump(reception.appointment_view(appointment)), status=201)

    @route("DELETE", "/receptions/<reception_id>/appointments/<appointment_id>", roles=("clerk", "operator"),
           summary="Cancel an appointment; its place is free again", response_schema=AppointmentSchema)
    def cancel_appointment(self, request, reception_id, appointment_id):
        appointment = self._on_roster(lambda tx, now: reception.cancel(
            tx, reception.parse_id(reception_id), reception.parse_id(appointment_id), now))
        return json_response(AppointmentSchema().dump(reception.appointment_view(appointment)))

    # --- Open311 GeoReport v2 (open311.py): categories as services, cases as service requests ---

    @open311_route("GET", "/open311/v2/services.<fmt>", roles=STAFF, query_schema=Open311Query,
                   response_schema=Open311ServiceSchema(many=True),
                   summary="Open311: the services, one per category of the county file")
    def open311_services(self, request, fmt):
        json_only(fmt)
        load_call(request, Open311Query(), self.county)
        return json_response(Open311ServiceSchema(many=True).dump(open311.services(self.county)))

    @open311_route("GET", "/open311/v2/services/<service_code>.<fmt>", roles=STAFF, query_schema=Open311Query,
                   response_schema=Open311ServiceDefinitionSchema,
                   summary="Open311: a service's definition, the attributes a request may carry")
    def open311_service_definition(self, request, service_code, fmt):
        json_only(fmt)
        load_call(request, Open311Query(), self.county)
        definition = open311.service_definition(self.county, service_code)
        if definition is None:
            raise Problem(404, "Not Found", f"no service {service_code}")
        return json_response(Open311ServiceDefinitionSchema().dump(definition))

    @open311_route("POST", "/open311/v2/requests.<fmt>", roles=("clerk", "operator"), status=201,
                   request_schema=Open311RequestForm, response_schema=Open311CreatedSchema(many=True),
                   example=OPEN311_REQUEST_EXAMPLE,
                   also={200: "no new case: the same Idempotency-Key or hotline order again, or a repeat petition"
                              " linked to its case"},
                   summary="Open311: file a service request, registered as a case like POST /cases")
    def open311_post_request(self, request, fmt):
        json_only(fmt)
        fields = load_form(request, Open311RequestForm(), self.county)
        try:  # the checks of POST /cases, their errors named as the form's fields (Open311Route)
            payload = CaseRegistrationSchema().load(open311.registration(fields))
        except ValidationError as exc:
            raise invalid(exc.messages)
        result = self._registered(request, payload)
        answer = {"service_request_id": result["number"], "service_notice": open311.service_notice(result),
                  "account_id": None}
        return json_response(Open311CreatedSchema(many=True).dump([answer]),
                             status=201 if result["outcome"] == "registered" else 200,
                             headers={"Location": f"/open311/v2/requests/{result['number']}.json"})

    @open311_route("GET", "/open311/v2/requests.<fmt>", roles=STAFF, query_schema=Open311RequestsQuery,
                   personal_data=True,  # descriptions: what citizens wrote, where they are
                   response_schema=Open311ServiceRequestSchema(many=True),
                   summary="Open311: service requests (cases) in your jurisdiction, newest first, at most 1000")
    def open311_requests(self, request, fmt):
        json_only(fmt)
        query = load_call(request, Open311RequestsQuery(), self.county)
        with refusals_as_problems():
            search = open311.search(self.county, query, datetime.now(timezone.utc))
        found = self._service_requests(request, **search, limit=open311.SEARCH_LIMIT)
        return json_response(Open311ServiceRequestSchema(many=True).dump(found))

    @open311_route("GET", "/open311/v2/requests/<service_request_id>.<fmt>", roles=STAFF, query_schema=Open311Query,
                   personal_data=True,  # descriptions: what the citizen wrote, where they are
                   response_schema=Open311ServiceRequestSchema(many=True),
                   summary="Open311: one service request (a case, by its number)")
    def open311_request(self, request, service_request_id, fmt):
        json_only(fmt)
        load_call(request, Open311Query(), self.county)
        found = self._service_requests(request, numbers=[service_request_id])
        if not found:  # none, or not yours: the same answer (access.py)
            raise Problem(404, "Not Found", f"no service request {service_request_id}")
        return json_response(Open311ServiceRequestSchema(many=True).dump(found))

    def _service_requests(self, request, **search):
        """The cases the caller may see (jurisdiction; discipline reports to their officers only)."""
        scope = access.sql_filter(principal(request), self.county, "c.location", "c.channel_class")
        return [open311.service_request(self.county, c)
                for c in store.service_requests(self.db, scope, open311.CLOSED, **search)]

    @event_handler(("routing", "case.*"))
    def follow_status(self, event):
        """Routing's events say the status they leave a case in: kept, for Open311's open or
        closed. No inbox: keeping the latest by the event's time makes a redelivery change nothing."""
        change = open311.status_change(event)
        if change is not None:
            with self.db.transaction() as tx:
                store.record_status(tx, change)

    def _within_scope(self, request, place):
        """A record made at a place outside the caller's jurisdiction is refused (403)."""
        who = principal(request)
        if not access.covers(who, self.county, place):
            raise Problem(403, "Forbidden", f"{place} lies outside your jurisdiction ({who.scope})")

    def _on_roster(self, work):
        """One unit of work on the roster; its refusals as problems: 400 by field, 404, 409."""
        try:
            with refusals_as_problems(), self.db.transaction() as tx:
                return work(tx, datetime.now(timezone.utc))
        except UniqueViolation:  # the same phone booking the same session at this very moment
            raise Problem(409, "Conflict", "this phone already has an appointment at this reception")
