"""Intake (登记): the one front door where every channel registers a case."""
from fengqiao.county import CountyConfig
from fengqiao.service import BackboneService
from fengqiao.web import Problem, invalid, json_response, load_body, route
from services.intake import domain, store
from services.intake.schemas import (
    REGISTRATION_EXAMPLE, CaseRegistrationSchema, CaseSchema, RegisteredCaseSchema,
)


class IntakeService(BackboneService):
    name = "intake"
    county = CountyConfig()

    @route("POST", "/cases", roles=("clerk", "operator"), status=201, summary="Register a case",
           request_schema=CaseRegistrationSchema, response_schema=RegisteredCaseSchema,
           example=REGISTRATION_EXAMPLE)
    def register_case(self, request):
        registration = load_body(request, CaseRegistrationSchema())
        try:
            case = domain.new_case(self.county, registration)
        except domain.Rejected as exc:
            raise invalid(exc.errors)
        with self.db.transaction() as tx:
            year = domain.number_year(self.county, case)
            case["number"] = domain.case_number(
                case["township"], year, store.next_sequence(tx, case["township"], year))
            store.insert_case(tx, case)
            tx.emit("case.registered", domain.registered_event(case), subject=str(case["id"]),
                    correlationid=request.headers.get("X-Correlation-ID"))
        return json_response(RegisteredCaseSchema().dump(case), status=201,
                             headers={"Location": f"/cases/{case['number']}"})

    @route("GET", "/cases/<number>", summary="A registered case", response_schema=CaseSchema)
    def get_case(self, request, number):
        case = store.find_case(self.db, number)
        if case is None:
            raise Problem(404, "Not Found", f"no case {number}")
        return json_response(CaseSchema().dump(case))
