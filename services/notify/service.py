"""Notify (提醒与通知): turns events into messages for the right people."""
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.web import json_response, load_query, route
from services.notify import domain, store
from services.notify.schemas import NotificationSchema, NotificationsQuery


class NotifyService(BackboneService):
    name = "notify"

    @event_handler(("routing", "case.assigned"))
    def tell_assigned_body(self, event):
        notice = domain.assignment_notice(event["data"])
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            store.record_sent(tx, notice)
            tx.emit("notification.sent", domain.sent_event(notice), cause=event)

    @route("GET", "/notifications", summary="Messages about a case and their status",
           query_schema=NotificationsQuery, response_schema=NotificationSchema(many=True))
    def list_notifications(self, request):
        query = load_query(request, NotificationsQuery())
        rows = store.notifications_of_case(self.db, query["case"])
        return json_response(NotificationSchema(many=True).dump(rows))
