"""Routing's HTTP edges: command bodies (unknown fields refused) and the case view."""
from marshmallow import Schema, fields, validate

from fengqiao.fields import Text
from services.routing.domain import OUTCOMES, RATINGS
from services.routing.rules import RISK_LEVELS

REASON = {"required": True, "validate": validate.Length(min=2, max=1000)}


class ReasonSchema(Schema):
    reason = Text(**REASON)


class AssignSchema(Schema):
    body = Text(required=True, metadata={"description": "code of the body that takes the case"})
    reason = Text(**REASON)


class NotAcceptSchema(Schema):
    reason = Text(**REASON)
    lawful_route = Text(required=True, metadata={"description": "a lawful route code from the county file"})


class ExtendSchema(Schema):
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    approver = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "leader's staff id"})
    reason = Text(**REASON)


class ConsultSchema(Schema):
    bodies = fields.List(Text(), required=True, validate=validate.Length(min=1, max=50))
    attendees = fields.List(Text(validate=validate.Length(min=1, max=50)), required=True,
                            validate=validate.Length(min=1, max=100))
    decision = Text(required=True, validate=validate.Length(min=2, max=4000))


class ResolveSchema(Schema):
    outcome = Text(required=True, validate=validate.OneOf(list(OUTCOMES)),
                   metadata={"description": "三到位一处理: demand_met, explained, relieved, referred"})
    reply = Text(required=True, validate=validate.Length(min=2, max=8000),
                 metadata={"description": "the written reply to the petitioner"})


class FollowUpSchema(Schema):
    rating = Text(required=True, validate=validate.OneOf(RATINGS))
    note = Text(load_default=None, validate=validate.Length(max=2000))


class ReviewDecisionSchema(Schema):
    decision = Text(required=True, validate=validate.OneOf(["upheld", "redo"]))
    reply = Text(required=True, validate=validate.Length(min=2, max=8000))


class RiskSchema(Schema):
    level = Text(required=True, validate=validate.OneOf(RISK_LEVELS))
    reason = Text(**REASON)


class WhistleSchema(Schema):
    bodies = fields.List(Text(), required=True, validate=validate.Length(min=1, max=20),
                         metadata={"description": "codes of the bodies that must report (报到)"})
    reason = Text(**REASON)


class WhistleReportSchema(Schema):
    body = Text(required=True, metadata={"description": "the body reporting"})


class DeadlineSchema(Schema):
    policy = fields.String()
    started_at = fields.String()
    due_at = fields.String()
    paused = fields.Boolean()
    share_used = fields.Float(metadata={"description": "how much of the time is used, 0–1 (over 1: overdue)"})


class CaseSchema(Schema):
    id = fields.String()
    number = fields.String()
    township = fields.String()
    location = fields.String()
    category = fields.String()
    channel_class = fields.String()
    status = fields.String()
    body = fields.String(allow_none=True)
    co_bodies = fields.List(fields.String())
    tier = fields.String(allow_none=True)
    rule = fields.String(allow_none=True, metadata={"description": "the routing rule that matched"})
    reason = fields.String(allow_none=True, metadata={"description": "why this body"})
    risk = fields.String()
    risk_reasons = fields.List(fields.String())
    leader = fields.Dict(allow_none=True)
    responsible = fields.Dict(allow_none=True)
    returns = fields.List(fields.Dict())
    extension = fields.Dict(allow_none=True)
    resolution = fields.Dict(allow_none=True)
    follow_up = fields.Dict(allow_none=True)
    reviews = fields.List(fields.Dict())
    escalations = fields.List(fields.Dict())
    consultations = fields.Integer()
    repeat_count = fields.Integer()
    deadlines = fields.List(fields.Nested(DeadlineSchema))
    whistles = fields.List(fields.Dict())
    mediation = fields.Dict(allow_none=True, metadata={"description": "the last mediation of the owning body: "
                                                                      "file_number, outcome, guided_to"})


# Statuses that need no more handling: a desk's queue leaves them out unless asked for by name
# (a case not accepted still waits to be closed, so it stays).
FINISHED = ("closed",)
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="a code of the county file (letters, digits, _ and -)")


class QueueQuery(Schema):
    """A desk's queue (待办): open cases in the caller's jurisdiction, narrowed at will."""
    body = Text(load_default=None, validate=CODE, metadata={"description": "the lead body's code"})
    status = Text(load_default=None, validate=CODE, metadata={"description": "one status (default: every open one)"})
    risk = Text(load_default=None, validate=validate.OneOf(RISK_LEVELS))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class QueueItemSchema(Schema):
    number = fields.String()
    subject = fields.String()
    category = fields.String()
    location = fields.String()
    status = fields.String()
    body = fields.String(allow_none=True)
    body_name = fields.String(allow_none=True)
    risk = fields.String()
    registered_at = fields.String()
    assigned_at = fields.String(allow_none=True)
    deadlines = fields.List(fields.Nested(DeadlineSchema))


class ExplanationSchema(Schema):
    number = fields.String()
    decision = fields.Dict(allow_none=True, metadata={"description": "what the rules decide now: rule, lead, co, tier"})
    recorded = fields.Dict(metadata={"description": "what was decided when the case was routed"})
    rules = fields.List(fields.Dict(), metadata={"description": "each rule in order: matched?, each condition"})


EXAMPLES = {
    "return": {"reason": "不属于本单位职责，应由自然资源所办理"},
    "assign": {"body": "QS-LAND", "reason": "属自然资源所职责"},
    "not_accept": {"reason": "已进入诉讼程序", "lawful_route": "litigation"},
    "extend": {"days": 30, "approver": "QS-LIUXF", "reason": "需等待土地确权结果"},
    "consult": {"bodies": ["QS-JUDICIAL", "QS-POLICE", "QS01-MEDIATION"], "attendees": ["刘建国", "陈志强"],
                "decision": "由司法所牵头调解，派出所配合，7日内答复"},
    "resolve": {"outcome": "demand_met", "reply": "经调解，双方同意拆除占道院墙，已于11月25日拆除完毕。"},
    "follow_up": {"rating": "satisfied", "note": "电话回访，当事人表示满意"},
    "reason": {"reason": "当事人对处理意见不满意"},
    "review_decision": {"decision": "upheld", "reply": "经复查，原处理意见正确，予以维持。"},
    "risk": {"level": "yellow", "reason": "当事人情绪激动，扬言再次上访"},
    "whistle": {"bodies": ["QS-LAND", "QS-ENFORCE"], "reason": "违建涉及多部门，需联合处置"},
    "whistle_report": {"body": "QS-LAND"},
}
