"""Notify's HTTP edges: the queries and the views of messages."""
from marshmallow import Schema, fields, validate

from fengqiao.fields import Text
from services.notify.subscriptions import MIN_SECRET_LENGTH


class NotificationsQuery(Schema):
    case = Text(required=True, metadata={"description": "case number"})


class InboxQuery(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only messages not yet read"})


class NotificationSchema(Schema):
    id = fields.UUID()
    number = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "the message (its template's name)"})
    channel = fields.String(metadata={"description": "inbox, email, sms or webhook"})
    recipient = fields.String(metadata={"description": "a staff id, a body code, petitioner or a webhook's name"})
    recipient_kind = fields.String()
    subject = fields.String(allow_none=True)
    text = fields.String()
    status = fields.String(metadata={"description": "pending (waiting: quiet hours or a retry), sent, failed, or "
                                                    "skipped (nobody to send to: an anonymous petitioner)"})
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)


class InboxSchema(Schema):
    id = fields.UUID()
    number = fields.String(allow_none=True)
    kind = fields.String()
    recipient = fields.String()
    subject = fields.String(allow_none=True)
    text = fields.String()
    created_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


class SubscriptionRequest(Schema):
    url = Text(required=True, max_length=2000, metadata={"description": "where deliveries are POSTed (http or https)"})
    events = fields.List(Text(max_length=100), required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "event types (case.assigned), a prefix with .* (case.*) or * for every event"})
    secret = Text(required=True, max_length=256, validate=validate.Length(min=MIN_SECRET_LENGTH), metadata={
        "description": "signs each delivery (X-Fengqiao-Signature); kept, never shown again"})
    description = Text(load_default="", max_length=500)


class SubscriptionSchema(Schema):
    id = fields.UUID()
    url = fields.String()
    events = fields.List(fields.String(), attribute="event_types")
    description = fields.String()
    created_by = fields.String(metadata={"description": "the subject of the token that registered it"})
    created_at = fields.AwareDateTime()
    pending = fields.Integer(metadata={"description": "deliveries waiting (new, or a retry after a failure)"})
    delivered = fields.Integer()
    failed = fields.Integer(metadata={"description": "deliveries given up on; POST …/retry sends one again"})
    last_delivered_at = fields.AwareDateTime(allow_none=True)


class DeliveriesQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "delivered", "failed"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeliverySchema(Schema):
    id = fields.UUID(metadata={"description": "sent as X-Fengqiao-Delivery: the same on every attempt"})
    event_id = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(metadata={"description": "pending: not before this"})
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    delivered_at = fields.AwareDateTime(allow_none=True)


SUBSCRIPTION_EXAMPLE = {"url": "https://data.songhe.example/fengqiao/events",
                        "events": ["case.registered", "case.closed", "mediation.*"],
                        "secret": "a-long-random-shared-secret", "description": "县大数据平台"}
