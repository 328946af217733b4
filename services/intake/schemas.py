"""Intake's HTTP edges: what a registration must contain and what comes back. Unknown fields
are refused (marshmallow's default), so a misspelt field never passes silently."""
from marshmallow import Schema, ValidationError, fields, validate

from fengqiao.county import CHANNEL_CLASSES
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


class GuidanceSchema(Schema):
    route = Text(required=True, metadata={"description": "a lawful route code, e.g. litigation, arbitration"})
    note = Text(load_default=None, validate=validate.Length(max=1000))


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
    reception_id = fields.UUID(load_default=None, metadata={
        "description": "a visit received at a leader's reception day (领导接访): that reception, held that day"})
    channel_class = Text(load_default=None, validate=validate.OneOf(CHANNEL_CLASSES),
                         metadata={"description": "overrides the class the category proposes; needs a reason"})
    channel_class_reason = Text(load_default=None, validate=validate.Length(min=2, max=500))
    guided_to = fields.Nested(GuidanceSchema, load_default=None,
                              metadata={"description": "guided at the window to a lawful route outside petitions"})


class RegisteredCaseSchema(Schema):
    id = fields.UUID()
    number = fields.String(metadata={"example": "QS-2026-000001"})
    outcome = fields.String(metadata={"description": "registered, same_request, same_hotline_order or repeat_linked"})
    collective = fields.Boolean()
    repeat_count = fields.Integer()


class RepeatCheckPersonSchema(Schema):
    id_number = Text(load_default=None, validate=_resident_id)
    phone = Text(load_default=None, validate=_phone)


class RepeatCheckSchema(Schema):
    """A repeat check (查重) at the window, before registering: did one of these people
    petition on this matter (category and place) within the repeat window?"""
    location = Text(required=True, metadata={"description": "code of a township, village or grid"})
    category = Text(required=True, metadata={"description": "a category code of the county file"})
    petitioners = fields.List(fields.Nested(RepeatCheckPersonSchema), required=True,
                              validate=validate.Length(min=1, max=500))


class RepeatOfSchema(Schema):
    number = fields.String()
    subject = fields.String()
    registered_at = fields.AwareDateTime()
    repeat_count = fields.Integer()


class RepeatCheckResultSchema(Schema):
    repeat = fields.Boolean(metadata={"description": "registering would link the petition to a case of the repeat"
                                                     " window that you may see (重复信访)"})
    case = fields.Nested(RepeatOfSchema, allow_none=True, metadata={"description": "that case, or null"})


REPEAT_CHECK_EXAMPLE = {"location": "QS01", "category": "land_dispute",
                        "petitioners": [{"id_number": "110101199003074514", "phone": "13800138000"}]}


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
    proposed_channel_class = fields.String()
    channel_class_reason = fields.String(allow_none=True)
    guided_to = fields.Dict(allow_none=True)
    cluster_id = fields.UUID(allow_none=True)


class GuideQuery(Schema):
    category = Text(load_default=None, metadata={"description": "a category code; all categories when absent"})


class RouteSchema(Schema):
    code = fields.String()
    label = fields.String()
    outside_petitions = fields.Boolean(metadata={"description": "court, arbitration, review: not a petition"})


class GuideEntrySchema(Schema):
    category = fields.String()
    label = fields.String()
    channel_class = fields.String()
    lawful_route = fields.Nested(RouteSchema)
    legal_basis = fields.String()
    other_routes = fields.List(fields.Nested(RouteSchema))


class ClustersQuery(Schema):
    township = Text(load_default=None)
    category = Text(load_default=None)


class ClusteredCaseSchema(Schema):
    number = fields.String()
    subject = fields.String()
    registered_at = fields.String()


class ClusterSchema(Schema):
    id = fields.UUID()
    category = fields.String()
    place = fields.String()
    township = fields.String()
    created_at = fields.AwareDateTime()
    size = fields.Integer()
    cases = fields.List(fields.Nested(ClusteredCaseSchema))


REGISTRATION_EXAMPLE = {
    "channel": "visit",
    "location": "QS01",
    "category": "neighbour_dispute",
    "subject": "邻居扩建院墙占用通道",
    "description": "来访人反映邻居扩建院墙占用了两家共用的通道，协商未果，请求村里调解。",
    "petitioners": [{"name": "王某某", "id_number": "110101199003074514", "phone": "13800138000",
                     "address": "清水镇柳湾村3组"}],
}


# --- Leader reception days (领导坐班接访): the roster and its appointments (预约) ---

def _county_time(value):
    if value.tzinfo is not None:
        raise ValidationError("county time, without an offset")


class ReceptionPublicationSchema(Schema):
    township = Text(required=True, metadata={"description": "township code from the county file"})
    leader_id = Text(required=True, validate=validate.Length(min=1, max=64),
                     metadata={"description": "the leader's staff id; one leader receives in one place at a time"})
    leader_name = Text(required=True, validate=validate.Length(min=1, max=50))
    leader_post = Text(required=True, validate=validate.Length(min=1, max=50), metadata={"example": "镇党委书记"})
    date = fields.Date(required=True, metadata={"description": "the reception day, not in the past"})
    start = fields.Time(required=True, validate=_county_time, metadata={"description": "county time, e.g. 09:00"})
    end = fields.Time(required=True, validate=_county_time, metadata={"description": "county time, after start"})
    place = Text(required=True, validate=validate.Length(min=1, max=200))
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=500),
                              metadata={"description": "appointments the session takes"})


class ReceptionSchema(Schema):
    id = fields.UUID()
    township = fields.String()
    leader_id = fields.String()
    leader_name = fields.String()
    leader_post = fields.String()
    starts_at = fields.AwareDateTime(metadata={"description": "county time"})
    ends_at = fields.AwareDateTime(metadata={"description": "county time"})
    place = fields.String()
    capacity = fields.Integer()
    booked = fields.Integer(metadata={"description": "live appointments"})
    remaining = fields.Integer(metadata={"description": "appointments still possible"})


class RosterQuery(Schema):
    township = Text(required=True)
    date_from = fields.Date(data_key="from", load_default=None, metadata={"description": "first day; today if absent"})
    date_to = fields.Date(data_key="to", load_default=None,
                          metadata={"description": "last day, inclusive; a month from `from` if absent"})


class AppointmentRequestSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=50))
    phone = Text(required=True, validate=_phone, metadata={"description": "stored sealed, shown masked"})
    subject = Text(required=True, validate=validate.Length(min=1, max=200))


class AppointmentSchema(Schema):
    id = fields.UUID()
    reception_id = fields.UUID()
    name = fields.String()
    phone = fields.String(metadata={"description": "masked: last 4 digits"})
    subject = fields.String()
    status = fields.String(metadata={"description": "booked or cancelled"})
    booked_at = fields.AwareDateTime()
    cancelled_at = fields.AwareDateTime(allow_none=True)


RECEPTION_EXAMPLE = {
    "township": "QS", "leader_id": "QS-LEADER-01", "leader_name": "张某某", "leader_post": "镇党委书记",
    "date": "2027-03-01", "start": "08:30", "end": "11:30", "place": "清水镇综治中心接访室", "capacity": 8,
}

APPOINTMENT_EXAMPLE = {"name": "王某某", "phone": "13800138000", "subject": "宅基地界址争议，请求书记接访"}


# Ledger import (台账导入): POST /cases/import takes the file itself; these describe its query
# and its report.
class LedgerImportQuerySchema(Schema):
    format = Text(load_default=None, validate=validate.OneOf(("csv", "xlsx")),
                  metadata={"description": "csv or xlsx; needed only when the content type does not say"})
    township = Text(load_default=None, metadata={"description": "the township whose ledger this is;"
                                                                 " defaults to the importer's own"})


class LedgerRowErrorSchema(Schema):
    field = fields.String(metadata={"description": "the registration field, as in POST /cases"})
    column = fields.String(allow_none=True, metadata={"description": "the file's header for it, if it has one"})
    message = fields.String()


class LedgerRowSchema(Schema):
    row = fields.Integer(metadata={"description": "the spreadsheet's row number (the header is row 1)"})
    ledger_number = fields.String(metadata={"description": "原编号, when the file has it"})
    number = fields.String(metadata={"example": "QS-2026-000001"})
    repeat_count = fields.Integer(metadata={"description": "linked rows: the case's repeat count"})
    outcome = fields.String(metadata={"description": "already imported rows: same_request or same_hotline_order"})


class LedgerRejectedRowSchema(Schema):
    row = fields.Integer()
    ledger_number = fields.String()
    errors = fields.List(fields.Nested(LedgerRowErrorSchema))


class LedgerReportSchema(Schema):
    import_id = fields.UUID()
    township = fields.String()
    format = fields.String()
    rows = fields.Integer(metadata={"description": "data rows read (blank rows skipped)"})
    registered = fields.List(fields.Nested(LedgerRowSchema), metadata={"description": "new cases"})
    linked = fields.List(fields.Nested(LedgerRowSchema),
                         metadata={"description": "repeat petitions linked to an earlier case"})
    already_imported = fields.List(fields.Nested(LedgerRowSchema),
                                   metadata={"description": "registered before: nothing new"})
    rejected = fields.List(fields.Nested(LedgerRejectedRowSchema),
                           metadata={"description": "bad rows, each with its reasons; nothing written"})


class ContactSchema(Schema):
    """A petitioner's phone, for sending only: never stored by the service that asks."""
    position = fields.Integer(metadata={"description": "the petitioner's place in the case (0, 1, …)"})
    phone = fields.String()


# --- Open311 GeoReport v2 (services/intake/open311.py): the standard's fields, as it names them ---

class Open311Query(Schema):
    """What every Open311 call may carry."""
    api_key = Text(load_default=None, metadata={"description": "the bearer token, for clients that cannot send"
                                                               " an Authorization header"})
    jurisdiction_id = Text(load_default=None, metadata={"description": "the county's code, or nothing"})


class Open311AttributesSchema(Schema):
    subject = Text(load_default=None, validate=validate.Length(max=200))
    hotline_order_id = Text(load_default=None, validate=validate.Length(min=1, max=64))


class Open311RequestForm(Open311Query):
    """POST requests (application/x-www-form-urlencoded); attribute[code] fields as `attributes`."""
    service_code = Text(required=True, metadata={"description": "a service (category) code from GET services"})
    address_id = Text(required=True, error_messages={"required": (
        "the place's code: a township, village or grid of the county file (e.g. QS01); this county places"
        " requests by its own codes, not by coordinates or street address")},
        metadata={"description": "a township, village or grid code of the county file"})
    description = Text(required=True, validate=validate.Length(min=1, max=4000),
                       metadata={"description": "what the matter is; the standard's limit of 4,000 characters"})
    lat = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    long = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
    address_string = Text(load_default=None, validate=validate.Length(max=500))
    email = fields.Email(load_default=None, metadata={"description": "accepted, not kept: petitioners are told by SMS"})
    device_id = Text(load_default=None, validate=validate.Length(max=200), metadata={"description": "not kept"})
    account_id = Text(load_default=None, validate=validate.Length(max=200), metadata={"description": "not kept"})
    first_name = Text(load_default=None, validate=validate.Length(max=50))
    last_name = Text(load_default=None, validate=validate.Length(max=50))
    phone = Text(load_default=None, metadata={"description": "stored sealed, like a petitioner's phone"})
    media_url = fields.Url(load_default=None, schemes={"http", "https"})
    attributes = fields.Nested(Open311AttributesSchema, load_default=dict, metadata={
        "description": "attribute[subject], attribute[hotline_order_id]: see GET services/{service_code}"})


class Open311RequestsQuery(Open311Query):
    service_request_id = Text(load_default=None, metadata={
        "description": "case numbers, comma separated; every other filter is then ignored"})
    service_code = Text(load_default=None, metadata={"description": "service codes, comma separated"})
    start_date = fields.AwareDateTime(load_default=None, metadata={"description": "requested on or after"})
    end_date = fields.AwareDateTime(load_default=None, metadata={
        "description": "requested before; at most 90 days after start_date, the last 90 days by default"})
    status = Text(load_default=None, metadata={"description": "open, closed, or both comma separated"})


class Open311ServiceSchema(Schema):
    service_code = fields.String()
    service_name = fields.String()
    description = fields.String()
    metadata = fields.Boolean()
    type = fields.String()
    keywords = fields.String()
    group = fields.String()


class Open311AttributeSchema(Schema):
    variable = fields.Boolean()
    code = fields.String()
    datatype = fields.String()
    required = fields.Boolean()
    datatype_description = fields.String(allow_none=True)
    order = fields.Integer()
    description = fields.String()


class Open311ServiceDefinitionSchema(Schema):
    service_code = fields.String()
    attributes = fields.List(fields.Nested(Open311AttributeSchema))


class Open311CreatedSchema(Schema):
    service_request_id = fields.String(metadata={"description": "the case number", "example": "QS-2026-000001"})
    service_notice = fields.String()
    account_id = fields.String(allow_none=True, metadata={"description": "always null: no accounts here"})


class Open311ServiceRequestSchema(Schema):
    service_request_id = fields.String(metadata={"description": "the case number"})
    status = fields.String(metadata={"description": "open or closed"})
    status_notes = fields.String(allow_none=True)
    service_name = fields.String()
    service_code = fields.String()
    description = fields.String()
    agency_responsible = fields.String(allow_none=True, metadata={"description": "the body last assigned the case"})
    service_notice = fields.String(allow_none=True, metadata={"description": "the category's lawful route"})
    requested_datetime = fields.String()
    updated_datetime = fields.String()
    expected_datetime = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    address_id = fields.String()
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)


OPEN311_REQUEST_EXAMPLE = {
    "api_key": "<token>", "service_code": "neighbour_dispute", "address_id": "QS01",
    "lat": 37.76524078, "long": 112.4212043, "address_string": "柳湾村3组东侧通道",
    "first_name": "某某", "last_name": "王", "phone": "13800138000", "email": "wang@example.cn",
    "device_id": "tt222111", "account_id": "123456",
    "description": "邻居扩建院墙占用两家共用的通道，协商未果，请求调解。",
    "media_url": "https://example.cn/photos/2212426634.jpg",
}
