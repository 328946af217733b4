from marshmallow import Schema, fields


class NotificationsQuery(Schema):
    case = fields.String(required=True, metadata={"description": "case number"})


class NotificationSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    kind = fields.String()
    channel = fields.String()
    recipient = fields.String()
    text = fields.String()
    status = fields.String()
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime()
