from marshmallow import Schema, fields


class AssignmentSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    township = fields.String()
    location = fields.String()
    category = fields.String()
    status = fields.String()
    body = fields.String()
    reason = fields.String()
    assigned_at = fields.AwareDateTime()
