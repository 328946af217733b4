"""Reporting (统计分析): the read side, fed only by events."""
from fengqiao.config import SERVICES
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.web import Problem, json_response, route
from services.reporting import projection, store
from services.reporting.schemas import StatsSchema, TimelineSchema


class ReportingService(BackboneService):
    name = "reporting"

    @event_handler(*[(source, "#") for source in SERVICES])
    def project(self, event):
        facts = projection.case_facts(event)
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            store.record_event(tx, event, projection.case_id_of(event))
            if facts is not None:
                store.apply_case_facts(tx, facts)

    @route("GET", "/cases/<number>/timeline", summary="A case's status, body and every event in order",
           response_schema=TimelineSchema)
    def case_timeline(self, request, number):
        case = store.find_case(self.db, number)
        if case is None:
            raise Problem(404, "Not Found", f"no case {number}")
        return json_response(TimelineSchema().dump({**case, "events": store.timeline(self.db, case["case_id"])}))

    @route("GET", "/stats", summary="Case counts by status", response_schema=StatsSchema)
    def stats(self, request):
        by_status = store.counts_by_status(self.db)
        return json_response(StatsSchema().dump({"total": sum(by_status.values()), "by_status": by_status}))
