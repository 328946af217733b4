"""Mediation's HTTP edges: command bodies (unknown fields refused), queries and views."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fengqiao.fields import MONTH, Text
from services.mediation.domain import COMPLEXITY_POLICY, KINDS, OUTCOMES, PARTY_ROLES, PAUSE_REASONS

REASON = {"required": True, "validate": validate.Length(min=2, max=1000)}
NAME = validate.Length(min=1, max=100)


def staff_ids(what):
    return fields.List(Text(validate=validate.Length(min=1, max=64)), load_default=list,
                       validate=validate.Length(max=10), metadata={"description": what})


class PartySchema(Schema):
    name = Text(required=True, validate=NAME)
    role = Text(required=True, validate=validate.OneOf(list(PARTY_ROLES)),
                metadata={"description": "applicant (申请人), respondent (被申请人) or third_party (第三人)"})


class OpenFileSchema(Schema):
    case = Text(required=True, validate=validate.Length(min=1, max=40), metadata={"description": "case number"})
    body = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "the mediating body"})
    kind = Text(load_default=None, validate=validate.OneOf(list(KINDS)),
                metadata={"description": "people, joint, administrative or industry; default: what the body does"})
    complexity = Text(load_default="ordinary", validate=validate.OneOf(list(COMPLEXITY_POLICY)),
                      metadata={"description": "ordinary (5 days) or complex (15 days)"})
    joint_bodies = fields.List(Text(validate=validate.Length(min=1, max=64)), load_default=list,
                               validate=validate.Length(max=10))
    parties = fields.List(fields.Nested(PartySchema), load_default=list, validate=validate.Length(max=50),
                          metadata={"description": "default: the case's petitioners as applicants"})
    mediators = staff_ids("staff ids of mediators of the body (or joint bodies); default: the least loaded")


class MediatorsSchema(Schema):
    mediators = fields.List(Text(validate=validate.Length(min=1, max=64)), required=True,
                            validate=validate.Length(min=1, max=10))
    reason = Text(**REASON)


class ComplexitySchema(Schema):
    complexity = Text(required=True, validate=validate.OneOf(list(COMPLEXITY_POLICY)))
    reason = Text(**REASON)


class SessionSchema(Schema):
    at = fields.AwareDateTime(required=True, metadata={"description": "when, with its offset (+08:00)"})
    place = Text(required=True, validate=validate.Length(min=2, max=200))
    mediators = staff_ids("staff ids of the file's mediators attending; default: all")
    parties = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=50),
                          metadata={"description": "names of the parties asked to come; default: all"})


class HeldSchema(Schema):
    attendance = fields.List(Text(validate=NAME), required=True, validate=validate.Length(min=1, max=100))
    minutes = Text(required=True, validate=validate.Length(min=2, max=20000), metadata={"description": "笔录"})


class ReasonSchema(Schema):
    reason = Text(**REASON)


class PauseSchema(Schema):
    reason = Text(required=True, validate=validate.OneOf(list(PAUSE_REASONS)),
                  metadata={"description": "appraisal (鉴定), evaluation (评估) or hearing (评议听证)"})
    note = Text(required=True, validate=validate.Length(min=2, max=2000))


class TermSchema(Schema):
    party = Text(required=True, validate=NAME, metadata={"description": "who: a party's name"})
    obligation = Text(required=True, validate=validate.Length(min=2, max=2000), metadata={"description": "does what"})
    due = fields.Date(required=True, metadata={"description": "by when"})


class ConcludeSchema(Schema):
    outcome = Text(required=True, validate=validate.OneOf(OUTCOMES))
    facts = Text(load_default=None, validate=validate.Length(min=2, max=8000),
                 metadata={"description": "agreement: the facts of the dispute (纠纷事实、争议事项)"})
    terms = fields.List(fields.Nested(TermSchema), load_default=list, validate=validate.Length(max=50))
    judicial_confirmation = fields.Boolean(load_default=False, metadata={"description": "司法确认 requested"})
    guided_to = Text(load_default=None, validate=validate.Length(min=1, max=64), metadata={
        "description": "no agreement: a lawful route of the county file outside the petition system "
                       "(litigation, arbitration, administrative_ruling…)"})
    note = Text(load_default=None, validate=validate.Length(max=4000))

    @validates_schema(skip_on_field_errors=False)  # every missing field named at once
    def fits_the_outcome(self, data, **kwargs):
        errors = {}
        if data.get("outcome") == "agreement":
            for key in ("facts", "terms"):
                if not data.get(key):
                    errors[key] = ["an agreement needs it"]
        elif data.get("terms") or data.get("facts"):
            errors["terms"] = ["only an agreement has facts and terms"]
        if data.get("outcome") == "no_agreement" and not data.get("guided_to"):
            errors["guided_to"] = ["name the lawful route the parties were guided to"]
        if data.get("outcome") == "withdrawn" and not data.get("note"):
            errors["note"] = ["say why the mediation was withdrawn"]
        if errors:
            raise ValidationError(errors)


class PerformanceSchema(Schema):
    kept = fields.Boolean(required=True, metadata={"description": "was the agreement performed?"})
    note = Text(required=True, validate=validate.Length(min=2, max=2000))


class FilesQuery(Schema):
    case = Text(load_default=None, metadata={"description": "case number"})
    body = Text(load_default=None)
    mediator = Text(load_default=None, metadata={"description": "staff id"})
    status = Text(load_default=None, validate=validate.OneOf(["open", "paused", "concluded"]))


class MonthlyQuery(Schema):
    month = Text(required=True, validate=MONTH)
    body = Text(load_default=None)


class DeadlineSchema(Schema):
    policy = fields.String()
    started_at = fields.String()
    due_at = fields.String()
    paused = fields.Boolean()
    share_used = fields.Float()


class FileSchema(Schema):
    id = fields.String()
    number = fields.String(metadata={"description": "<case number>-M<n>"})
    case_id = fields.String()
    case_number = fields.String()
    township = fields.String()
    body = fields.String()
    body_name = fields.String()
    kind = fields.String()
    joint_bodies = fields.List(fields.String())
    complexity = fields.String()
    status = fields.String(metadata={"description": "open, paused or concluded"})
    subject = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    opened_at = fields.String()
    opened_by = fields.String()
    parties = fields.List(fields.Dict())
    mediators = fields.List(fields.String())
    changes = fields.List(fields.Dict())
    sessions = fields.List(fields.Dict())
    pauses = fields.List(fields.Dict())
    outcome = fields.Dict(allow_none=True)
    performance = fields.Dict(allow_none=True)
    deadlines = fields.List(fields.Nested(DeadlineSchema))


class ArchiveSchema(Schema):
    file = fields.Nested(FileSchema)
    case = fields.Dict(metadata={"description": "the registration as mediation received it (petitioners masked)"})
    deadlines = fields.List(fields.Dict(), metadata={"description": "every clock of the file, stopped ones too"})
    archived_at = fields.String()


class MonthlyCountSchema(Schema):
    mediator = fields.String()
    name = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    concluded = fields.Integer()
    agreement = fields.Integer()
    no_agreement = fields.Integer()
    withdrawn = fields.Integer()
    success_rate = fields.Float(allow_none=True, metadata={"description": "agreements ÷ (agreements + no agreements)"})


EXAMPLES = {
    "open": {"case": "QS-2026-000001", "body": "QS-JUDICIAL", "kind": "joint", "complexity": "complex",
             "joint_bodies": ["QS-POLICE-MEDIATION"],
             "parties": [{"name": "王某某", "role": "applicant"}, {"name": "李某某", "role": "respondent"}]},
    "mediators": {"mediators": ["QS-TANGDS"], "reason": "原调解员回避"},
    "party": {"name": "李某某", "role": "respondent"},
    "complexity": {"complexity": "complex", "reason": "涉及宅基地确权，需多方参与"},
    "session": {"at": "2026-12-03T09:30:00+08:00", "place": "柳湾村调解室"},
    "held": {"attendance": ["王某某", "李某某"], "minutes": "双方陈述意见，调解员释法明理，初步达成一致。"},
    "reason": {"reason": "当事人临时有事，改期"},
    "pause": {"reason": "appraisal", "note": "委托对院墙占地面积进行测绘鉴定"},
    "conclude": {"outcome": "agreement", "facts": "李某某扩建院墙占用两家共用通道约一米，王某某要求恢复通行。",
                 "terms": [{"party": "李某某", "obligation": "拆除占用通道部分的院墙，恢复通道原宽度", "due": "2026-12-20"}],
                 "judicial_confirmation": True},
    "performance": {"kept": True, "note": "回访核实，院墙已拆除，通道恢复"},
}
