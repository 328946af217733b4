"""What the console's pages show, worked out without any web framework: form fields to API
bodies and the services' field errors back next to those fields (in Chinese where known), a
desk's queue in sections, which actions a case's status offers, deadlines as bars, the
indicators' labels; a mediator's files, the forms of a file's actions and the sessions
calendar. The services decide everything; this only arranges it for people."""
import re
from datetime import date, datetime, timedelta
from urllib.parse import quote

from services.mediation.domain import KINDS, PARTY_ROLES, PAUSE_REASONS
from services.reporting.exports import CHANNELS
from services.routing.domain import HANDLING

# Chinese names of the fields people fill in, for messages that name a field.
FIELD_LABELS = {
    "channel": "渠道", "location": "地点", "category": "事项类别", "subject": "事由", "description": "具体内容",
    "received_at": "收到时间", "anonymous": "匿名", "petitioners": "当事人", "name": "姓名", "id_number": "身份证号",
    "phone": "电话", "address": "住址", "order_id": "12345工单号", "grid_worker": "网格员", "grid": "网格",
    "agent": "代办员", "consent": "本人同意", "consent_note": "同意说明", "source_body": "交办单位",
    "document_number": "交办文号", "channel_class": "分类", "channel_class_reason": "改变分类的理由",
    "reason": "理由", "outcome": "办理结果", "reply": "答复意见", "rating": "群众评价", "note": "说明",
    "days": "延期天数", "approver": "批准领导", "bodies": "单位", "lawful_route": "法定途径", "body": "单位",
    "at": "时间", "place": "地点", "attendance": "到场人员", "minutes": "笔录", "facts": "纠纷事实",
    "terms": "协议条款", "party": "当事人", "obligation": "义务", "due": "履行期限", "guided_to": "引导途径",
    "role": "身份", "judicial_confirmation": "申请司法确认",
}

# The services' messages (marshmallow's and their own) in Chinese; anything else is shown as it is.
_MESSAGES = [
    (r"Missing data for required field\.", lambda m: "必填"),
    (r"Unknown field\.", lambda m: "不认识的字段"),
    (r"Field may not be null\.", lambda m: "不能为空"),
    (r"Not a valid (integer|number)\.", lambda m: "须为整数"),
    (r"Not a valid .*", lambda m: "格式不正确"),
    (r"Shorter than minimum length (\d+)\.", lambda m: f"至少 {m[1]} 个字"),
    (r"Length must be between (\d+) and (\d+)\.", lambda m: f"长度须在 {m[1]}–{m[2]} 个字之间"),
    (r"Longer than maximum length (\d+)\.", lambda m: f"最多 {m[1]} 个字"),
    (r"at most (\d+) characters", lambda m: f"最多 {m[1]} 个字"),
    (r"Must be greater than or equal to (\d+)\.", lambda m: f"不能小于 {m[1]}"),
    (r"Must be one of: (.*)\.", lambda m: f"须为以下之一：{m[1]}"),
    (r"not a resident ID number: check digit does not match", lambda m: "身份证号校验位不对"),
    (r"not a resident ID number: holds no (valid|plausible) date of birth", lambda m: "身份证号中的出生日期不对"),
    (r"not a resident ID number: .*", lambda m: "身份证号须为18位：17位数字加一位数字或X"),
    (r"not a mainland mobile.*", lambda m: "须为11位手机号或带区号的固定电话"),
    (r"not a township, village or grid of this county", lambda m: "不是本县的乡镇、村或网格"),
    (r"unknown category.*", lambda m: "不是本县的事项类别"),
    (r"lies in the future", lambda m: "不能晚于现在"),
    (r"required for channel (\w+)", lambda m: f"{CHANNELS.get(m[1], m[1])}渠道须填写"),
    (r"only for channel (\w+)", lambda m: f"仅限{CHANNELS.get(m[1], m[1])}渠道"),
    (r"a (\w+) registration names its petitioner", lambda m: f"{CHANNELS.get(m[1], m[1])}不能匿名，须写明当事人"),
    (r"name at least one petitioner.*", lambda m: "请至少填写一名当事人，或在允许的渠道选择匿名"),
    (r"a proxy files only with the citizen's consent", lambda m: "代办须经本人同意"),
    (r"not a grid of this county", lambda m: "不是本县的网格"),
    # mediation's (services/mediation/domain.py, schemas.py)
    (r"an agreement needs it", lambda m: "达成协议须填写"),
    (r"only an agreement has facts and terms", lambda m: "只有达成协议才填写纠纷事实和协议条款"),
    (r"name the lawful route the parties were guided to", lambda m: "请选择引导当事人依法解决的途径"),
    (r"say why the mediation was withdrawn", lambda m: "请写明撤回调解的原因"),
    (r"an agreement binds two parties at least.*", lambda m: "协议须有两方以上当事人：请先添加对方当事人"),
    (r"the facts of the dispute .* go into the agreement", lambda m: "须写明纠纷事实"),
    (r"an agreement has at least one term", lambda m: "协议至少须有一项条款"),
    (r"not parties to this file: (.*)", lambda m: f"不是本卷宗的当事人：{m[1]}"),
    (r"not mediators of this file: (.*)", lambda m: f"不是本卷宗的调解员：{m[1]}"),
    (r"a term cannot be due before today \((.*)\): (.*)", lambda m: f"履行期限不能早于今天（{m[1]}）：{m[2]}"),
    (r"no session was held.*", lambda m: "尚未召开调解会：调解须经调解会方能终结（或撤回）"),
    (r"(.+) is a party already", lambda m: f"{m[1]}已是当事人"),
    (r"the session is (\w+)", lambda m: f"该调解会{SESSION_STATUS.get(m[1], m[1])}"),
    (r"cannot .+ a file that is (\w+); it must be .*", lambda m: f"卷宗{FILE_STATUS.get(m[1], m[1])}，不能办理此项"),
    (r"file \S+ was not concluded with an agreement", lambda m: "该卷宗未达成调解协议，没有调解协议书"),
]


def in_chinese(message):
    for pattern, say in _MESSAGES:
        found = re.fullmatch(pattern, message)
        if found:
            return say(found)
    return message


def field_errors(problem):
    """A problem+json body as {form field: message}: the services name fields by dotted path
    (`petitioners.0.phone`), as the console's forms name their inputs; errors of the whole
    request go under ""."""
    errors = {}
    for e in (problem or {}).get("errors") or []:
        field = "" if e.get("field") in (None, "_schema") else e["field"]
        errors.setdefault(field, []).append(in_chinese(e.get("message", "")))
    return {field: "；".join(messages) for field, messages in errors.items()}


def problem_summary(status, problem):
    """One line for the top of a page: what went wrong, in the words people use."""
    general = {400: "填写有误，未作任何更改", 401: "登录已失效，请重新登录", 403: "超出您的权限或管辖范围",
               404: "找不到该事项（或不在您的管辖范围内）", 409: "当前状态不允许此操作", 413: "内容过长",
               429: "操作过于频繁，请稍后再试"}.get(status, "服务暂时不可用，请稍后再试")
    detail = (problem or {}).get("detail")
    return f"{general}：{in_chinese(detail)}" if detail and status in (403, 409) else general


# --- forms to bodies ---------------------------------------------------------------------------

def nest(pairs):
    """Form inputs named by dotted path (`petitioners.0.name`, `hotline.order_id`) as the JSON
    body they name: numeric parts make lists (in order, gaps closed), empty inputs are left out,
    and a group left empty is left out whole."""
    tree = {}
    for name, value in pairs:
        value = value.strip() if isinstance(value, str) else value
        if value in ("", None):
            continue
        node, parts = tree, name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(tree)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


# Inputs that are yes/no (a checkbox sends "on" when ticked and nothing when not).
CHECKBOXES = ("anonymous", "proxy.consent")


def registration(form):
    """The body of intake's POST /cases from the window's form (a list of (name, value))."""
    pairs = [(k, v) for k, v in form if k not in ("csrf", "idempotency_key")]
    body = nest((k, v) for k, v in pairs if k not in CHECKBOXES)
    names = {k for k, _ in pairs}
    if "anonymous" in names:
        body["anonymous"] = True
    if "proxy.consent" in names:
        body.setdefault("proxy", {})["consent"] = True
    return body


def repeat_probe(form):
    """intake's repeat check (查重) from the window's form as typed so far: the place, the
    category and each petitioner's ID number and phone; None while there is nothing to ask."""
    body = registration(form)
    people = [{k: p[k] for k in ("id_number", "phone") if p.get(k)} for p in body.get("petitioners") or []]
    people = [p for p in people if p]
    if not (body.get("location") and body.get("category") and people):
        return None
    return {"location": body["location"], "category": body["category"], "petitioners": people}


# --- a case's actions ----------------------------------------------------------------------------

# Each action staff may take on a case page: routing's path, the statuses in which the page
# offers it, the roles routing lets take it (routing's rules decide; a refusal there is shown as
# it comes), and its inputs.
HANDLERS = ("handler", "leader")
ACTIONS = {
    "sign": {"label": "签收", "statuses": ("assigned",), "roles": HANDLERS, "fields": ()},
    "return": {"label": "退回", "statuses": ("assigned",), "roles": HANDLERS, "fields": ("reason",)},
    "assign": {"label": "改派", "statuses": ("returned",), "roles": ("clerk", "leader"), "fields": ("body", "reason")},
    "accept": {"label": "受理", "statuses": ("signed",), "roles": HANDLERS, "fields": ()},
    "not-accept": {"label": "不予受理", "statuses": ("signed",), "roles": HANDLERS,
                   "fields": ("reason", "lawful_route")},
    "consultations": {"label": "联席会议", "statuses": ("signed", "in_progress", "suspended"), "roles": HANDLERS,
                      "fields": ("bodies", "attendees", "decision")},
    "resolve": {"label": "办结", "statuses": ("in_progress",), "roles": HANDLERS, "fields": ("outcome", "reply")},
    "suspend": {"label": "中止", "statuses": ("in_progress",), "roles": HANDLERS, "fields": ("reason",)},
    "resume": {"label": "恢复办理", "statuses": ("suspended",), "roles": HANDLERS, "fields": ()},
    "extend": {"label": "延期", "statuses": ("in_progress", "suspended"), "roles": ("leader",),
               "fields": ("days", "approver", "reason")},
    "whistles": {"label": "吹哨", "statuses": ("signed", "in_progress", "suspended"), "roles": HANDLERS,
                 "fields": ("bodies", "reason")},
    # not a returned case: the dispatcher re-routes it (and after two returns, the director)
    "escalate": {"label": "上报", "statuses": ("assigned", "signed", "in_progress", "suspended"), "roles": HANDLERS,
                 "fields": ("reason",)},
    "risk": {"label": "调整风险等级", "statuses": HANDLING + ("resolved", "followed_up", "under_review"),
             "roles": ("handler", "leader", "supervisor"), "fields": ("level", "reason")},
    "follow-up": {"label": "回访", "statuses": ("resolved",), "roles": ("clerk", "handler"), "fields": ("rating", "note")},
    "review-request": {"label": "申请复查复核", "statuses": ("followed_up",), "roles": ("clerk",), "fields": ("reason",)},
    "review-decision": {"label": "复查复核决定", "statuses": ("under_review",), "roles": ("leader",),
                        "fields": ("decision", "reply")},
    "close": {"label": "结案", "statuses": ("followed_up", "not_accepted"), "roles": ("clerk", "leader"), "fields": ()},
}
# A named body's report (报到) to a whistle: offered per open whistle, beside the actions above.
WHISTLE_REPORT = {"label": "报到", "roles": HANDLERS}
REVIEW_DECISIONS = {"upheld": "维持原处理意见", "redo": "重新办理"}
# Inputs of several values, from a multiple choice or written in one box: codes apart by commas
# or spaces; people's names by commas or lines (a name may hold a space).
LIST_FIELDS = {"bodies": r"[,，、\s]+", "attendees": r"[,，、;；\n]+"}


def actions_for(case, roles):
    """The actions a case offers a person with `roles`, in the order of ACTIONS: those its
    status allows (a review only for an unsatisfied petitioner)."""
    unsatisfied = (case.get("follow_up") or {}).get("rating") == "unsatisfied"
    return [name for name, a in ACTIONS.items() if case["status"] in a["statuses"] and set(roles) & set(a["roles"])
            and (name != "review-request" or unsatisfied)]


def whistles_to_answer(case, roles, own_body):
    """The case's open whistles with the bodies still to report that the person may report
    for: their own body; a leader, any (on its behalf)."""
    if case["status"] not in HANDLING or not set(roles) & set(WHISTLE_REPORT["roles"]):
        return []
    found = []
    for w in case.get("whistles") or []:
        waiting = [b for b, at in w["reports"].items() if at is None and ("leader" in roles or b == own_body)]
        if w["status"] == "open" and waiting:
            found.append({**w, "waiting": waiting})
    return found


def action_body(action, form):
    """The JSON body of a routing command from its form ({input: [values]}): only the action's
    own inputs, whole numbers as numbers (anything else is left for routing to name), lists
    from a multiple choice or from values written with commas or on lines of their own."""
    fields = ("body",) if action == "report" else ACTIONS[action]["fields"]
    body = {}
    for field in fields:
        values = [v.strip() for v in form.get(field) or [] if v.strip()]
        if not values:
            continue
        if field == "days":
            body[field] = int(values[0]) if values[0].isdigit() else values[0]
        elif field in LIST_FIELDS:
            body[field] = [item.strip() for v in values for item in re.split(LIST_FIELDS[field], v) if item.strip()]
        else:
            body[field] = values[0]
    return body


EVENT_LABELS = {
    "case.registered": "登记", "case.repeat_linked": "重复信访关联", "case.guided": "引导至法定途径",
    "case.clustered": "归入同类问题", "case.assigned": "交办", "case.signed": "签收", "case.returned": "退回",
    "case.accepted": "受理", "case.not_accepted": "不予受理", "case.extended": "延期", "case.suspended": "中止",
    "case.resumed": "恢复办理", "case.consulted": "联席会议", "case.resolved": "办结", "case.followed_up": "回访",
    "case.review_requested": "申请复查复核", "case.review_decided": "复查复核决定", "case.reopened": "重新办理",
    "case.closed": "结案", "case.risk_changed": "风险等级变化", "case.escalated": "上报",
    "case.whistle_raised": "吹哨", "case.whistle_reported": "报到", "case.whistle_answered": "吹哨全部报到",
    "deadline.due_soon": "时限提醒", "deadline.overdue": "超期", "mediation.opened": "调解立案",
    "mediation.session_scheduled": "安排调解会", "mediation.session_held": "召开调解会", "mediation.paused": "调解暂停计时",
    "mediation.resumed": "调解恢复计时", "mediation.concluded": "调解终结", "mediation.party_added": "添加当事人",
    "mediation.mediators_changed": "更换调解员", "mediation.complexity_changed": "调整繁简",
    "mediation.session_cancelled": "取消调解会", "mediation.performance_checked": "协议履行回访",
    "notification.sent": "已通知",
    "notification.failed": "通知失败",
}


# --- the desk ------------------------------------------------------------------------------------

POLICY_LABELS = {"sign": "签收时限", "acceptance": "受理时限", "handling": "办理时限", "follow_up": "回访时限",
                 "review_decision": "复查复核时限", "whistle_report": "报到时限",
                 "mediation_ordinary": "调解时限", "mediation_complex": "调解时限（复杂）",
                 "agreement_performance": "协议履行"}
DUE_SOON = 0.8  # the share of its time a deadline has used when the desk calls it due soon


def deadline_bar(deadline):
    """A running deadline as a bar: its label, how full (0–100) and its state."""
    used = deadline.get("share_used") or 0.0
    state = "paused" if deadline.get("paused") else "over" if used >= 1 else "soon" if used >= DUE_SOON else "ok"
    return {"label": POLICY_LABELS.get(deadline["policy"], deadline["policy"]), "percent": min(round(used * 100), 100),
            "used": round(used * 100), "state": state, "due_at": deadline["due_at"]}


def urgency(case):
    """The state of the case's most pressing running deadline: over, soon, ok (or none)."""
    states = {deadline_bar(d)["state"] for d in case.get("deadlines") or []}
    return next((s for s in ("over", "soon", "ok") if s in states), None)


SECTIONS = (("to_sign", "新交办，待签收或退回"), ("returned", "已退回或无法自动交办，待改派"), ("overdue", "已超期"),
            ("due_soon", "即将到期"), ("handling", "办理中"), ("after", "已办结或不予受理，待回访、复查复核或结案"))


def queue_sections(cases):
    """The desk's queue in sections — new assignments to sign or return, returned ones to
    re-route, overdue, due soon, the rest in handling, those past handling — each with red
    cases first and otherwise in the order routing gave (due first)."""
    found = {key: [] for key, _ in SECTIONS}
    for case in cases:
        key = {"assigned": "to_sign", "returned": "returned"}.get(case["status"]) or \
            {"over": "overdue", "soon": "due_soon"}.get(urgency(case)) or \
            ("handling" if case["status"] in HANDLING else "after")
        found[key].append(case)
    return [(key, title, sorted(found[key], key=lambda c: c["risk"] != "red")) for key, title in SECTIONS]


# --- the leader's wall -----------------------------------------------------------------------------

INDICATORS = {  # the reporting issue's indicators, in the order a leader reads them
    "registered": "登记件数", "acceptance_on_time_rate": "响应率（按时受理）", "resolution_rate": "解决率",
    "on_time_resolution_rate": "按期办结率", "satisfaction_rate": "满意率", "repeat_petition_rate": "重复信访率",
    "resolved_in_village_share": "小事不出村", "resolved_in_township_share": "大事不出镇",
    "sent_to_county_share": "上交县级比例", "first_petition_resolution_rate": "初信初访化解率",
    "mediation_success_rate": "调解成功率",
}


def shown(name, value):
    """An indicator's value as people read it: a count, a percentage, or — over nothing."""
    if value is None:
        return "—"
    return str(value) if name == "registered" else f"{value * 100:.1f}%"


def change(name, delta):
    """环比 / 同比 as shown: a volume's relative change, a rate's difference in points."""
    if delta is None:
        return "—"
    sign = "+" if delta > 0 else ""
    return f"{sign}{delta * 100:.1f}%" if name == "registered" else f"{sign}{delta * 100:.1f}个百分点"


def months_back(today, count):
    """The `count` months up to and including today's, oldest first, as (first day, next first day)."""
    index = today.year * 12 + today.month - 1
    return [(date((i) // 12, i % 12 + 1, 1), date((i + 1) // 12, (i + 1) % 12 + 1, 1))
            for i in range(index - count + 1, index + 1)]


PERIODS = {"month": "本月", "quarter": "本季度", "year": "本年"}


def period_so_far(today, kind):
    """This month, quarter or year up to today, as (first day, the day after today)."""
    first_month = {"month": today.month, "quarter": (today.month - 1) // 3 * 3 + 1, "year": 1}[kind]
    return date(today.year, first_month, 1), today + timedelta(days=1)


def local_time(iso, zone):
    """An ISO moment as county time for people: 2026-03-05 14:07."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- mediation (调解) ------------------------------------------------------------------------------

FILE_STATUS = {"open": "调解中", "paused": "暂停计时", "concluded": "已终结"}
SESSION_STATUS = {"scheduled": "已安排", "held": "已召开", "cancelled": "已取消"}
MEDIATION_OUTCOMES = {"agreement": "达成协议", "no_agreement": "未达成协议", "withdrawn": "撤回调解",
                      "transferred": "移送（事项转出本调解组织）"}
COMPLEXITY = {"ordinary": "一般纠纷（5日）", "complex": "复杂纠纷（15日）"}
MEDIATION_LABELS = {"kinds": KINDS, "roles": PARTY_ROLES, "pauses": PAUSE_REASONS, "status": FILE_STATUS,
                    "sessions": SESSION_STATUS, "outcomes": MEDIATION_OUTCOMES, "complexity": COMPLEXITY}
IN_HAND = ("open", "paused")

# Each action on a mediation file (调解卷宗): mediation's path under the file, the file statuses
# in which the page offers it (mediation's rules decide; a refusal there is shown as it comes),
# its inputs, and what it always sends. The three endings are one command, `conclude`.
FILE_ACTIONS = {
    "party": {"label": "添加当事人", "path": "/parties", "statuses": IN_HAND, "fields": ("name", "role")},
    "session": {"label": "安排调解会", "path": "/sessions", "statuses": IN_HAND, "fields": ("at", "place")},
    "held": {"label": "记录调解会", "path": "/sessions/{session}/held", "statuses": IN_HAND,
             "fields": ("attendance", "minutes")},
    "cancel": {"label": "取消调解会", "path": "/sessions/{session}/cancel", "statuses": IN_HAND, "fields": ("reason",)},
    "mediators": {"label": "更换调解员", "path": "/mediators", "statuses": IN_HAND, "fields": ("mediators", "reason")},
    "complexity": {"label": "调整繁简", "path": "/complexity", "statuses": IN_HAND, "fields": ("complexity", "reason")},
    "pause": {"label": "暂停计时", "path": "/pause", "statuses": ("open",), "fields": ("reason", "note")},
    "resume": {"label": "恢复计时", "path": "/resume", "statuses": ("paused",), "fields": ()},
    "agreement": {"label": "达成协议", "path": "/conclude", "statuses": IN_HAND,
                  "fields": ("facts", "terms", "judicial_confirmation", "note"), "sends": {"outcome": "agreement"}},
    "no-agreement": {"label": "未达成协议", "path": "/conclude", "statuses": IN_HAND, "fields": ("guided_to", "note"),
                     "sends": {"outcome": "no_agreement"}},
    "withdrawn": {"label": "撤回调解", "path": "/conclude", "statuses": IN_HAND, "fields": ("note",),
                  "sends": {"outcome": "withdrawn"}},
    "performance": {"label": "协议履行回访", "path": "/performance", "statuses": ("concluded",), "fields": ("kept", "note")},
}


def file_actions(file):
    """The actions a file offers: those its status allows; a concluded agreement's performance
    check (协议履行回访) once, and nothing else after the end."""
    agreed = (file.get("outcome") or {}).get("outcome") == "agreement" and not file.get("performance")
    return [name for name, a in FILE_ACTIONS.items() if file["status"] in a["statuses"]
            and (name != "performance" or agreed)]


def file_command(action, form, zone):
    """(path under the file, JSON body) of a mediation command from its form (a list of (name,
    value)): only the action's own inputs, by dotted path (`terms.0.due`, `attendance.1`), a
    ticked checkbox as true, a moment typed in county time with its offset; anything that does
    not parse is sent as typed, for mediation to name."""
    spec, form = FILE_ACTIONS[action], list(form)
    pairs = [(k, v) for k, v in form if k.split(".")[0] in spec["fields"]]
    body = nest((k, v) for k, v in pairs if k not in ("judicial_confirmation", "mediators"))
    if "mediators" in spec["fields"]:  # a multiple choice: the same name once per ticked box
        body["mediators"] = [v for k, v in pairs if k == "mediators" and v.strip()]
    if any(k == "judicial_confirmation" for k, _ in pairs):
        body["judicial_confirmation"] = True
    if "kept" in body:  # a yes/no choice
        body["kept"] = {"yes": True, "no": False}.get(body["kept"], body["kept"])
    if "at" in body:
        body["at"] = local_moment(body["at"], zone)
    session = next((v for k, v in form if k == "session"), "")
    return spec["path"].format(session=quote(session.strip(), safe="")), {**body, **spec.get("sends", {})}


def local_moment(typed, zone):
    """A moment typed in county time (`2026-12-03T09:30`, as a datetime-local input sends it) with
    the county's offset (`2026-12-03T09:30:00+08:00`); one that carries its own offset, or is no
    moment at all, as it is."""
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        return typed
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).isoformat()


def mediation_clock(file):
    """The share of the file's mediation clock used (0 without one), for ordering files."""
    return max((d.get("share_used") or 0.0 for d in file.get("deadlines") or []
                if d["policy"].startswith("mediation_")), default=0.0)


def file_sections(files):
    """A mediator's files in sections: those in hand — open ones first, the most pressing clock
    first, then those paused for an appraisal — and the concluded ones, newest first as given."""
    in_hand = sorted((f for f in files if f["status"] in IN_HAND),
                     key=lambda f: (f["status"] == "paused", -mediation_clock(f)))
    return [("in_hand", "在办卷宗", in_hand),
            ("concluded", "已终结", [f for f in files if f["status"] not in IN_HAND])]


def session_calendar(files, today, zone, weeks=2):
    """The coming sessions of the files in hand by day: `weeks` weeks of days from this week's
    Monday (days gone by are marked past), each day's sessions in time order, and those further
    off as `later`. A session counts as coming while it is scheduled and its day has not passed."""
    start = today - timedelta(days=today.weekday())
    end = start + timedelta(days=7 * weeks)
    days, later = {}, []
    for file in files:
        if file["status"] not in IN_HAND:
            continue
        for s in file.get("sessions") or []:
            at = datetime.fromisoformat(s["at"]).astimezone(zone)
            if s["status"] != "scheduled" or at.date() < today:
                continue
            entry = {"at": at, "time": at.strftime("%H:%M"), "place": s["place"], "file": file["number"],
                     "subject": file.get("subject") or ""}
            if at.date() < end:
                days.setdefault(at.date(), []).append(entry)
            else:
                later.append(entry)
    grid = []
    for w in range(weeks):
        week = [start + timedelta(days=7 * w + d) for d in range(7)]
        grid.append([{"date": day, "past": day < today, "today": day == today,
                      "sessions": sorted(days.get(day, []), key=lambda e: e["at"])} for day in week])
    return {"weeks": grid, "later": sorted(later, key=lambda e: e["at"])}
