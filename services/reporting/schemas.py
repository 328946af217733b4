"""Reporting's HTTP edges: the filters every indicator, list and export takes, and the views."""
from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fengqiao.fields import MONTH, Text

# A code of the county file (a township, village, category, channel or body): letters, digits,
# "_" and "-" ("*" and "" mean other things to the tallies).
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="a code of the county file (letters, digits, _ and -)")
YEARS = validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31), error="a date from 2000 to 2100")


class FiltersQuery(Schema):
    """A period [from, to) in county dates (default: this month so far) and the places, kinds
    and bodies to count."""
    from_ = fields.Date(data_key="from", load_default=None, validate=YEARS,
                        metadata={"description": "first day (county time)"})
    to = fields.Date(load_default=None, validate=YEARS, metadata={"description": "the day after the last (exclusive)"})
    township = Text(load_default=None, validate=CODE)
    village = Text(load_default=None, validate=CODE)
    category = Text(load_default=None, validate=CODE)
    channel = Text(load_default=None, validate=CODE)
    body = Text(load_default=None, validate=CODE)

    @validates_schema
    def ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] <= data["from_"]:
            raise ValidationError({"to": ["must come after from"]})


class HotspotsQuery(Schema):
    month = Text(required=True, validate=MONTH)
    township = Text(load_default=None, validate=CODE)


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
    status = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    township = fields.String(allow_none=True)
    village = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    risk = fields.String()
    tier = fields.String(allow_none=True)
    repeat_count = fields.Integer()
    deadlines = fields.List(fields.Dict(), metadata={"description": "running clocks: policy, due_at, share used"})
    events = fields.List(fields.Nested(TimelineEventSchema))


class StatsSchema(Schema):
    total = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())


class IndicatorsSchema(Schema):
    period = fields.Dict(metadata={"description": "from, to (county dates) and the two periods compared"})
    filters = fields.Dict()
    indicators = fields.Dict(metadata={"description": "each: value, numerator, denominator, definition, previous "
                                                      "period and same period last year with the change"})


class BacklogSchema(Schema):
    buckets = fields.Dict(keys=fields.String(), values=fields.Integer(),
                          metadata={"description": "open cases by days since registration (积案)"})
    oldest_days = fields.Integer(allow_none=True)


class OverdueSchema(Schema):
    number = fields.String()
    township = fields.String(allow_none=True)
    village = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    risk = fields.String()
    status = fields.String()
    overdue = fields.List(fields.Dict(), metadata={"description": "the deadlines past due, with days overdue"})


class HotspotsSchema(Schema):
    month = fields.String()
    overdue_cases = fields.Integer(metadata={"description": "open cases past a deadline now (in the township asked)"})
    open_red_cases = fields.Integer(metadata={"description": "open cases whose risk is red now"})
    rising_categories = fields.List(fields.Dict())
    repeat_petitions_growing = fields.List(fields.Dict())
    clusters_growing = fields.List(fields.Dict())
