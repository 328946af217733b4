"""Notify's HTTP edges: the queries and the views of messages."""
from marshmallow import Schema, fields

from fengqiao.fields import Text


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
