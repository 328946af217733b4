"""The web console's pure parts (services/console/views.py, charts.py): forms to API bodies, the
services' errors back to the fields in Chinese, the desk's sections, the wall's figures."""
from datetime import date

import pytest

from services.console import charts, views
from services.console.app import csrf_token


def test_dotted_inputs_make_the_body_intake_expects_and_empty_ones_are_left_out():
    form = [("channel", "hotline"), ("location", "QS01"), ("category", "heating"), ("subject", " 供暖 "),
            ("petitioners.0.name", "王某某"), ("petitioners.0.phone", "13800138000"), ("petitioners.0.address", ""),
            ("petitioners.1.name", ""), ("petitioners.2.name", "李某"), ("hotline.order_id", "H-1"),
            ("referral.source_body", ""), ("csrf", "x"), ("idempotency_key", "k")]
    assert views.registration(form) == {
        "channel": "hotline", "location": "QS01", "category": "heating", "subject": "供暖",
        "petitioners": [{"name": "王某某", "phone": "13800138000"}, {"name": "李某"}],
        "hotline": {"order_id": "H-1"}}


def test_checkboxes_are_true_when_ticked_and_absent_otherwise():
    assert views.registration([("channel", "letter"), ("anonymous", "on")])["anonymous"] is True
    assert views.registration([("channel", "proxy"), ("proxy.agent", "张某"), ("proxy.consent", "on")])["proxy"] == \
        {"agent": "张某", "consent": True}
    assert "anonymous" not in views.registration([("channel", "visit")])


def test_field_errors_land_on_the_inputs_named_alike_in_chinese():
    problem = {"status": 400, "errors": [
        {"field": "petitioners.0.phone", "message": "not a mainland mobile (11 digits) or landline (area code and number)"},
        {"field": "petitioners.0.id_number", "message": "not a resident ID number: check digit does not match"},
        {"field": "subject", "message": "Missing data for required field."},
        {"field": "hotline", "message": "required for channel hotline"},
        {"field": "_schema", "message": "something of the whole request"},
        {"field": "reply", "message": "Length must be between 2 and 8000."}]}
    assert views.field_errors(problem) == {
        "petitioners.0.phone": "须为11位手机号或带区号的固定电话", "petitioners.0.id_number": "身份证号校验位不对",
        "subject": "必填", "hotline": "12345热线渠道须填写", "": "something of the whole request",
        "reply": "长度须在 2–8000 个字之间"}


def test_a_refusal_says_why_and_other_problems_say_what_to_do():
    assert views.problem_summary(409, {"detail": "a red case is resolved only after a joint consultation (联席会议)"}) \
        .startswith("当前状态不允许此操作：")
    assert views.problem_summary(404, {"detail": "no case QS-2026-000009"}) == "找不到该事项（或不在您的管辖范围内）"
    assert views.problem_summary(502, None) == "服务暂时不可用，请稍后再试"


@pytest.mark.parametrize("status, offered", [
    ("assigned", {"sign", "return", "escalate"}),
    ("signed", {"accept", "not-accept", "whistles", "escalate"}),
    ("in_progress", {"resolve", "suspend", "extend", "whistles", "escalate"}),
    ("suspended", {"resume", "extend", "whistles", "escalate"}),
    ("resolved", {"follow-up"}),
    ("followed_up", {"close"}),
    ("closed", set()),
])
def test_the_desk_offers_the_actions_the_status_allows(status, offered):
    assert set(views.actions_for(status)) == offered


def test_an_action_sends_only_its_own_inputs():
    form = {"reason": ["  须多部门联合处置 "], "bodies": ["QS-LAND", "QS-ENFORCE,QS-POLICE"], "days": ["20"],
            "outcome": ["explained"], "csrf": ["x"]}
    assert views.action_body("whistles", form) == {"bodies": ["QS-LAND", "QS-ENFORCE", "QS-POLICE"],
                                                   "reason": "须多部门联合处置"}
    assert views.action_body("extend", form) == {"days": 20, "reason": "须多部门联合处置"}
    assert views.action_body("extend", {"days": ["二十"]}) == {"days": "二十"}  # routing names what is wrong
    assert views.action_body("sign", form) == {}
    with pytest.raises(KeyError):
        views.action_body("delete", form)


def _case(number, status="in_progress", risk="blue", used=()):
    return {"number": number, "status": status, "risk": risk,
            "deadlines": [{"policy": "handling", "share_used": u, "paused": False, "due_at": "2026-12-31T16:00:00+00:00"}
                          for u in used]}


def test_the_queue_puts_new_assignments_then_overdue_then_due_soon_with_red_first():
    cases = [_case("A", used=[0.1]), _case("B", used=[1.2]), _case("C", status="assigned", used=[0.2]),
             _case("D", used=[0.85]), _case("E", risk="red", used=[1.01]), _case("F", risk="red", used=[0.3]),
             _case("G")]
    sections = {key: [c["number"] for c in found] for key, _, found in views.queue_sections(cases)}
    assert sections == {"to_sign": ["C"], "overdue": ["E", "B"], "due_soon": ["D"], "handling": ["F", "A", "G"]}
    assert [key for key, _, _ in views.queue_sections([])] == ["to_sign", "overdue", "due_soon", "handling"]


def test_a_deadline_bar_is_full_at_most_and_says_its_state():
    assert views.deadline_bar({"policy": "sign", "share_used": 0.5, "paused": False, "due_at": "x"}) == \
        {"label": "签收时限", "percent": 50, "used": 50, "state": "ok", "due_at": "x"}
    over = views.deadline_bar({"policy": "handling", "share_used": 1.37, "paused": False, "due_at": "x"})
    assert (over["percent"], over["used"], over["state"]) == (100, 137, "over")
    assert views.deadline_bar({"policy": "acceptance", "share_used": 0.9, "paused": True, "due_at": "x"})["state"] == "paused"


def test_indicators_read_as_counts_percentages_and_points():
    assert views.shown("registered", 12) == "12"
    assert views.shown("resolution_rate", 0.8333) == "83.3%"
    assert views.shown("satisfaction_rate", None) == "—"
    assert views.change("registered", 0.25) == "+25.0%"
    assert views.change("resolution_rate", -0.05) == "-5.0个百分点"
    assert views.change("resolution_rate", None) == "—"


def test_six_months_back_cross_the_new_year():
    months = views.months_back(date(2026, 2, 14), 3)
    assert months == [(date(2025, 12, 1), date(2026, 1, 1)), (date(2026, 1, 1), date(2026, 2, 1)),
                      (date(2026, 2, 1), date(2026, 3, 1))]


def test_charts_are_svg_with_escaped_labels_and_bars_in_proportion():
    svg = charts.bars([("邻里<纠纷>", 2), ("供暖", 4)], width=330, label_width=130)
    assert svg.startswith("<svg") and "邻里&lt;纠纷&gt;" in svg and "<纠纷>" not in svg
    assert svg.index("供暖") < svg.index("邻里")  # largest first
    assert "width='160.0'" in svg and "width='80.0'" in svg  # 4 fills the room (330 − 130 − 40), 2 half
    assert "<rect" in charts.columns([("1月", 0), ("2月", 0)])  # nothing counted yet: no division by zero
    assert charts.columns([]) == "" and charts.bars([]) == ""


def test_the_form_token_belongs_to_the_session():
    assert csrf_token("token-a") == csrf_token("token-a") != csrf_token("token-b")
