from marshmallow import Schema, fields


class TimelineEventSchema(Schema):
    id = fields.String()
    type = fields.String()
    time = fields.AwareDateTime()
    source = fields.String()
    correlationid = fields.String()
    data = fields.Dict()


class TimelineSchema(Schema):
    number = fields.String()
    case_id = fields.UUID()
    status = fields.String()
    body = fields.String(allow_none=True)
    township = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    events = fields.List(fields.Nested(TimelineEventSchema))


class StatsSchema(Schema):
    total = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
