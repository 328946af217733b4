"""Intake's HTTP edges: what a registration must contain and what comes back."""
from marshmallow import Schema, fields, validate

from services.intake.domain import CHANNELS


class CaseRegistrationSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    location = fields.String(required=True, metadata={"description": "code of a township, village or grid"})
    category = fields.String(required=True, metadata={"description": "a category code of the county file"})
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    received_at = fields.AwareDateTime(load_default=None, metadata={"description": "defaults to now"})


class RegisteredCaseSchema(Schema):
    id = fields.UUID()
    number = fields.String(metadata={"example": "QS-2026-000001"})


class CaseSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    channel = fields.String()
    location = fields.String()
    township = fields.String()
    category = fields.String()
    channel_class = fields.String()
    subject = fields.String()
    description = fields.String()
    received_at = fields.AwareDateTime()
    registered_at = fields.AwareDateTime()


REGISTRATION_EXAMPLE = {
    "channel": "visit",
    "location": "QS01",
    "category": "neighbour_dispute",
    "subject": "邻居扩建院墙占用通道",
    "description": "来访人反映邻居扩建院墙占用了两家共用的通道，协商未果，请求村里调解。",
}
