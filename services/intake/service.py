"""Intake (登记): the one front door where every channel registers a case."""
from psycopg.errors import UniqueViolation

from fengqiao.county import CountyConfig
from fengqiao.service import BackboneService
from fengqiao.web import Problem, invalid, json_response, load_body, route
from services.intake import domain, registration, store
from services.intake.dependencies import PersonalDataVault
from services.intake.schemas import (
    REGISTRATION_EXAMPLE, CaseRegistrationSchema, CaseSchema, RegisteredCaseSchema,
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
        payload = load_body(request, CaseRegistrationSchema())
        headers = (request.headers.get("X-Correlation-ID"), request.headers.get("Idempotency-Key"))
        try:
            result = self._register(payload, *headers)
        except UniqueViolation:  # the same hotline order or request, registered at this very moment
            result = self._register(payload, *headers)
        created = result["outcome"] == "registered"
        return json_response(RegisteredCaseSchema().dump(result), status=201 if created else 200,
                             headers={"Location": f"/cases/{result['number']}"})

    def _register(self, payload, correlationid, idempotency_key):
        try:
            with self.db.transaction() as tx:
                return registration.register(tx, self.county, self.vault, payload, correlationid, idempotency_key)
        except domain.Rejected as exc:
            raise invalid(exc.errors)

    @route("GET", "/cases/<number>", summary="A registered case, personal data masked", response_schema=CaseSchema)
    def get_case(self, request, number):
        case = store.find_case(self.db, number)
        if case is None:
            raise Problem(404, "Not Found", f"no case {number}")
        return json_response(CaseSchema().dump(case))
