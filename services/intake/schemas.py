"""Intake's HTTP edges: what a registration must contain and what comes back. Unknown fields
are refused (marshmallow's default), so a misspelt field never passes silently."""
from marshmallow import Schema, ValidationError, fields, validate

from fengqiao.fields import Text

from services.intake.domain import CHANNELS
from services.intake.personal_data import normalize_phone, resident_id_problem


def _resident_id(value):
    problem = resident_id_problem(value)
    if problem:
        raise ValidationError(f"not a resident ID number: {problem}")


def _phone(value):
    if normalize_phone(value) is None:
        raise ValidationError("not a mainland mobile (11 digits) or landline (area code and number)")


class PetitionerSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=50))
    id_number = Text(load_default=None, validate=_resident_id, metadata={"description": "18-digit resident ID"})
    phone = Text(load_default=None, validate=_phone)
    address = Text(load_default=None, validate=validate.Length(max=200))


class HotlineOrderSchema(Schema):
    order_id = Text(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "the 12345 hotline's own work-order id"})


class GridReportSchema(Schema):
    grid_worker = Text(required=True, validate=validate.Length(min=1, max=50))
    grid = Text(required=True, metadata={"description": "grid code from the county file"})


class ProxySchema(Schema):
    agent = Text(required=True, validate=validate.Length(min=1, max=50), metadata={"description": "代办员"})
    consent = fields.Boolean(required=True, metadata={"description": "the citizen agreed to be represented"})
    consent_note = Text(load_default=None, validate=validate.Length(max=500))


class ReferralSchema(Schema):
    source_body = Text(required=True, validate=validate.Length(min=1, max=100))
    document_number = Text(required=True, validate=validate.Length(min=1, max=100))


class CaseRegistrationSchema(Schema):
    channel = Text(required=True, validate=validate.OneOf(CHANNELS))
    location = Text(required=True, metadata={"description": "code of a township, village or grid"})
    category = Text(required=True, metadata={"description": "a category code of the county file"})
    subject = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(required=True, validate=validate.Length(min=1, max=20000))
    received_at = fields.AwareDateTime(load_default=None, metadata={"description": "defaults to now"})
    petitioners = fields.List(fields.Nested(PetitionerSchema), load_default=list, validate=validate.Length(max=500))
    anonymous = fields.Boolean(load_default=False)
    hotline = fields.Nested(HotlineOrderSchema, load_default=None)
    grid_report = fields.Nested(GridReportSchema, load_default=None)
    proxy = fields.Nested(ProxySchema, load_default=None)
    referral = fields.Nested(ReferralSchema, load_default=None)


class RegisteredCaseSchema(Schema):
    id = fields.UUID()
    number = fields.String(metadata={"example": "QS-2026-000001"})
    outcome = fields.String(metadata={"description": "registered, same_request, same_hotline_order or repeat_linked"})
    collective = fields.Boolean()
    repeat_count = fields.Integer()


class MaskedPetitionerSchema(Schema):
    name = fields.String()
    id_number = fields.String(allow_none=True, metadata={"description": "masked: last 4 digits"})
    phone = fields.String(allow_none=True, metadata={"description": "masked: last 4 digits"})


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
    anonymous = fields.Boolean()
    collective = fields.Boolean()
    repeat_count = fields.Integer()
    details = fields.Dict()
    petitioners = fields.List(fields.Nested(MaskedPetitionerSchema))


REGISTRATION_EXAMPLE = {
    "channel": "visit",
    "location": "QS01",
    "category": "neighbour_dispute",
    "subject": "邻居扩建院墙占用通道",
    "description": "来访人反映邻居扩建院墙占用了两家共用的通道，协商未果，请求村里调解。",
    "petitioners": [{"name": "王某某", "id_number": "110101199003074514", "phone": "13800138000",
                     "address": "清水镇柳湾村3组"}],
}
