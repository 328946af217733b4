"""Routing (分流交办): gives each registered case to the body that owns it."""
from fengqiao.county import CountyConfig
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.web import Problem, json_response, route
from services.routing import domain, store
from services.routing.schemas import AssignmentSchema


class RoutingService(BackboneService):
    name = "routing"
    county = CountyConfig()

    @event_handler(("intake", "case.registered"))
    def assign_case(self, event):
        case = event["data"]
        if case.get("guided_to"):
            return  # guided at the window to court, arbitration or review: no body of ours takes it
        body, reason = domain.pick_body(self.county, case["location"], case["category"])
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            store.record_assignment(tx, case, body.code, reason)
            tx.emit("case.assigned", domain.assigned_event(case, body, reason), cause=event)

    @route("GET", "/cases/<number>", summary="A case's assignment and why", response_schema=AssignmentSchema)
    def get_assignment(self, request, number):
        case = store.find_case(self.db, number)
        if case is None:
            raise Problem(404, "Not Found", f"no case {number}")
        return json_response(AssignmentSchema().dump(case))
