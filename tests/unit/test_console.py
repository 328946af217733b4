"""The web console's pure parts (services/console/views.py, charts.py): forms to API bodies, the
services' errors back to the fields in Chinese, the desk's sections, the wall's figures, a
mediator's files and sessions calendar; and the mediation pages drawn from the services' answers
(a stand-in for the services, no network)."""
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from werkzeug.test import Client

from fengqiao import auth, config
from services.console import app as console_app
from services.console import charts, views
from services.console.app import csrf_token

ZONE = ZoneInfo("Asia/Shanghai")


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


@pytest.mark.parametrize("status, roles, offered", [
    ("assigned", ["handler"], {"sign", "return", "escalate", "risk"}),
    ("returned", ["handler"], {"risk"}),  # not sent up by the body that returned it
    ("returned", ["clerk"], {"assign"}),  # the dispatcher re-routes what a body returned
    ("signed", ["handler"], {"accept", "not-accept", "consultations", "whistles", "escalate", "risk"}),
    ("in_progress", ["handler"], {"resolve", "suspend", "consultations", "whistles", "escalate", "risk"}),
    ("in_progress", ["leader"], {"resolve", "suspend", "extend", "consultations", "whistles", "escalate", "risk"}),
    ("in_progress", ["supervisor"], {"risk"}),
    ("suspended", ["handler"], {"resume", "consultations", "whistles", "escalate", "risk"}),
    ("resolved", ["clerk"], {"follow-up"}),
    ("followed_up", ["clerk"], {"close", "review-request"}),  # the petitioner was unsatisfied
    ("followed_up", ["handler"], {"risk"}),
    ("under_review", ["leader"], {"review-decision", "risk"}),
    ("not_accepted", ["clerk"], {"close"}),
    ("closed", ["clerk", "handler", "leader", "supervisor"], set()),
])
def test_a_case_page_offers_what_the_status_allows_and_the_person_may_do(status, roles, offered):
    case = {"status": status, "follow_up": {"rating": "unsatisfied"} if status == "followed_up" else None}
    assert set(views.actions_for(case, roles)) == offered


def test_a_review_is_offered_only_for_an_unsatisfied_petitioner():
    satisfied = {"status": "followed_up", "follow_up": {"rating": "satisfied"}}
    assert views.actions_for(satisfied, ["clerk"]) == ["close"]


def test_an_action_sends_only_its_own_inputs():
    form = {"reason": ["  须多部门联合处置 "], "bodies": ["QS-LAND", "QS-ENFORCE,QS-POLICE"], "days": ["20"],
            "outcome": ["explained"], "csrf": ["x"], "attendees": ["王建国、李 梅\nMary Smith"],
            "decision": ["由国土所牵头"], "body": ["QS-LAND"]}
    assert views.action_body("whistles", form) == {"bodies": ["QS-LAND", "QS-ENFORCE", "QS-POLICE"],
                                                   "reason": "须多部门联合处置"}
    assert views.action_body("extend", form) == {"days": 20, "reason": "须多部门联合处置"}
    assert views.action_body("extend", {"days": ["二十"]}) == {"days": "二十"}  # routing names what is wrong
    assert views.action_body("consultations", form) == {
        "bodies": ["QS-LAND", "QS-ENFORCE", "QS-POLICE"], "attendees": ["王建国", "李 梅", "Mary Smith"],
        "decision": "由国土所牵头"}
    assert views.action_body("report", form) == {"body": "QS-LAND"}
    assert views.action_body("sign", form) == {}
    with pytest.raises(KeyError):
        views.action_body("delete", form)


def test_a_whistle_is_offered_to_answer_with_the_bodies_still_to_report():
    case = {"status": "in_progress", "whistles": [
        {"id": "w1", "status": "open", "reports": {"QS-LAND": "2026-12-01T08:00:00+00:00", "QS-POLICE": None}},
        {"id": "w2", "status": "answered", "reports": {"QS-LAND": "2026-12-01T08:00:00+00:00"}}]}
    police = views.whistles_to_answer(case, ["handler"], "QS-POLICE")
    assert [(w["id"], w["waiting"]) for w in police] == [("w1", ["QS-POLICE"])]
    assert views.whistles_to_answer(case, ["handler"], "QS-LAND") == []  # reported already; a body for itself
    assert views.whistles_to_answer(case, ["handler"], None) == []
    assert [w["waiting"] for w in views.whistles_to_answer(case, ["leader"], None)] == [["QS-POLICE"]]
    assert views.whistles_to_answer(case, ["clerk"], "QS-POLICE") == []
    assert views.whistles_to_answer({**case, "status": "resolved"}, ["handler"], "QS-POLICE") == []


def _case(number, status="in_progress", risk="blue", used=()):
    return {"number": number, "status": status, "risk": risk,
            "deadlines": [{"policy": "handling", "share_used": u, "paused": False, "due_at": "2026-12-31T16:00:00+00:00"}
                          for u in used]}


def test_the_queue_puts_new_assignments_then_overdue_then_due_soon_with_red_first():
    cases = [_case("A", used=[0.1]), _case("B", used=[1.2]), _case("C", status="assigned", used=[0.2]),
             _case("D", used=[0.85]), _case("E", risk="red", used=[1.01]), _case("F", risk="red", used=[0.3]),
             _case("G"), _case("H", status="returned"), _case("I", status="resolved", used=[0.2]),
             _case("J", status="under_review", used=[0.9])]
    sections = {key: [c["number"] for c in found] for key, _, found in views.queue_sections(cases)}
    assert sections == {"to_sign": ["C"], "returned": ["H"], "overdue": ["E", "B"], "due_soon": ["D", "J"],
                        "handling": ["F", "A", "G"], "after": ["I"]}
    assert [key for key, _, _ in views.queue_sections([])] == [
        "to_sign", "returned", "overdue", "due_soon", "handling", "after"]


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


@pytest.mark.parametrize("kind, first", [("month", date(2026, 11, 1)), ("quarter", date(2026, 10, 1)),
                                         ("year", date(2026, 1, 1))])
def test_the_wall_counts_this_month_quarter_or_year_so_far(kind, first):
    assert views.period_so_far(date(2026, 11, 30), kind) == (first, date(2026, 12, 1))


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


# --- mediation (调解) ------------------------------------------------------------------------------

IN_HAND_ALWAYS = {"party", "session", "held", "cancel", "mediators", "complexity", "agreement", "no-agreement",
                  "withdrawn"}


@pytest.mark.parametrize("file, offered", [
    ({"status": "open", "outcome": None}, IN_HAND_ALWAYS | {"pause"}),
    ({"status": "paused", "outcome": None}, IN_HAND_ALWAYS | {"resume"}),
    ({"status": "concluded", "outcome": {"outcome": "agreement"}, "performance": None}, {"performance"}),
    ({"status": "concluded", "outcome": {"outcome": "agreement"}, "performance": {"kept": True}}, set()),
    ({"status": "concluded", "outcome": {"outcome": "no_agreement"}, "performance": None}, set()),
])
def test_a_file_offers_the_actions_its_status_allows(file, offered):
    assert set(views.file_actions(file)) == offered


def test_a_performance_check_sends_kept_as_yes_or_no_and_a_cancel_names_its_session():
    assert views.file_command("performance", [("kept", "no"), ("note", "尚未拆除")], ZONE) == \
        ("/performance", {"kept": False, "note": "尚未拆除"})
    assert views.file_command("cancel", [("session", "s-1"), ("reason", "当事人生病")], ZONE) == \
        ("/sessions/s-1/cancel", {"reason": "当事人生病"})
    assert views.file_command("mediators", [("mediators", "QS-XUCS"), ("mediators", "QS01-M2"), ("reason", "回避")],
                              ZONE) == ("/mediators", {"mediators": ["QS-XUCS", "QS01-M2"], "reason": "回避"})


def test_a_session_typed_in_county_time_is_sent_with_its_offset():
    form = [("csrf", "x"), ("at", "2026-12-03T09:30"), ("place", " 柳湾村调解室 "), ("note", "not this form's")]
    assert views.file_command("session", form, ZONE) == \
        ("/sessions", {"at": "2026-12-03T09:30:00+08:00", "place": "柳湾村调解室"})
    assert views.file_command("session", [("at", "明天上午")], ZONE)[1] == {"at": "明天上午"}  # mediation names it
    assert views.local_moment("2026-12-03T09:30:00+00:00", ZONE) == "2026-12-03T09:30:00+00:00"


def test_a_held_session_names_the_session_in_the_path_and_lists_who_came():
    form = [("session", "5b1c/../pause"), ("attendance.0", "王某某"), ("attendance.2", "李某某"),
            ("minutes", "双方陈述意见")]
    path, body = views.file_command("held", iter(form), ZONE)  # as werkzeug's form.items() gives it
    assert path == "/sessions/5b1c%2F..%2Fpause/held"  # a made-up id stays one path segment
    assert body == {"attendance": ["王某某", "李某某"], "minutes": "双方陈述意见"}


def test_the_three_endings_are_one_conclude_command_with_their_own_inputs():
    form = [("facts", "占用通道"), ("terms.0.party", "李某某"), ("terms.0.obligation", "拆除院墙"),
            ("terms.0.due", "2026-12-20"), ("terms.1.party", ""), ("terms.1.obligation", ""), ("terms.1.due", ""),
            ("judicial_confirmation", "on"), ("guided_to", "litigation"), ("note", "")]
    assert views.file_command("agreement", form, ZONE) == ("/conclude", {
        "outcome": "agreement", "facts": "占用通道", "judicial_confirmation": True,
        "terms": [{"party": "李某某", "obligation": "拆除院墙", "due": "2026-12-20"}]})
    assert views.file_command("no-agreement", form, ZONE) == ("/conclude", {"outcome": "no_agreement",
                                                                           "guided_to": "litigation"})
    assert views.file_command("withdrawn", [("note", "双方自行和解")], ZONE) == \
        ("/conclude", {"outcome": "withdrawn", "note": "双方自行和解"})
    assert views.file_command("resume", form, ZONE) == ("/resume", {})
    with pytest.raises(KeyError):
        views.file_command("delete", form, ZONE)


def test_mediations_refusals_read_in_chinese():
    problem = {"errors": [{"field": "terms.0.due", "message": "Missing data for required field."},
                          {"field": "parties", "message": "an agreement binds two parties at least: add the other side first"},
                          {"field": "terms", "message": "a term cannot be due before today (2026-12-02): 2026-12-01"},
                          {"field": "guided_to", "message": "name the lawful route the parties were guided to"}]}
    assert views.field_errors(problem) == {
        "terms.0.due": "必填", "parties": "协议须有两方以上当事人：请先添加对方当事人",
        "terms": "履行期限不能早于今天（2026-12-02）：2026-12-01", "guided_to": "请选择引导当事人依法解决的途径"}
    assert views.problem_summary(409, {"detail": "cannot resume a file that is open; it must be paused"}) == \
        "当前状态不允许此操作：卷宗调解中，不能办理此项"


def _file(number, status="open", used=0.0, sessions=(), policy="mediation_ordinary"):
    return {"number": number, "status": status, "subject": f"纠纷{number}", "sessions": list(sessions),
            "deadlines": [{"policy": policy, "share_used": used, "paused": status == "paused",
                           "due_at": "2026-12-09T16:00:00+00:00"}] if status != "concluded" else []}


def test_files_in_hand_come_first_the_most_pressing_clock_first_paused_ones_after():
    files = [_file("A", used=0.2), _file("B", status="concluded"), _file("C", status="paused", used=0.9),
             _file("D", used=0.7), _file("E", used=0.1, policy="mediation_complex")]
    sections = {key: [f["number"] for f in found] for key, _, found in views.file_sections(files)}
    assert sections == {"in_hand": ["D", "A", "E", "C"], "concluded": ["B"]}


def _session(at, status="scheduled", place="调解室"):
    return {"id": at, "at": at, "place": place, "status": status}


def test_the_calendar_shows_coming_sessions_by_day_from_this_weeks_monday():
    today = date(2026, 12, 2)  # a Wednesday
    files = [_file("A", sessions=[_session("2026-12-03T09:30:00+08:00"), _session("2026-12-03T01:00:00+00:00"),
                                  _session("2026-12-01T09:00:00+08:00"), _session("2026-12-02T14:00:00+08:00", "held")]),
             _file("B", status="paused", sessions=[_session("2026-12-22T10:00:00+08:00")]),
             _file("C", status="concluded", sessions=[_session("2026-12-04T10:00:00+08:00")])]
    calendar = views.session_calendar(files, today, ZONE)
    days = [day for week in calendar["weeks"] for day in week]
    assert [len(week) for week in calendar["weeks"]] == [7, 7]
    assert (days[0]["date"], days[-1]["date"]) == (date(2026, 11, 30), date(2026, 12, 13))
    assert [d["past"] for d in days[:3]] == [True, True, False] and days[2]["today"]
    thursday = days[3]["sessions"]
    assert [(s["time"], s["file"]) for s in thursday] == [("09:00", "A"), ("09:30", "A")]  # 01:00 UTC is 09:00 here
    assert sum(len(d["sessions"]) for d in days) == 2  # gone by, held, and a concluded file's: none
    assert [(s["at"].date(), s["file"]) for s in calendar["later"]] == [(date(2026, 12, 22), "B")]


# --- the mediation pages, drawn from the services' answers -----------------------------------------

FILE = {"number": "QS-2026-000001-M1", "case_number": "QS-2026-000001", "status": "concluded", "body": "QS01-MEDIATION",
        "body_name": "柳湾村人民调解委员会", "kind": "people", "complexity": "ordinary", "joint_bodies": [],
        "subject": "院墙占道", "description": "邻居扩建院墙", "opened_at": "2026-12-01T01:00:00+00:00",
        "opened_by": "routing", "mediators": ["QS-XUCS"], "deadlines": [],
        "parties": [{"name": "王某某", "role": "applicant"}, {"name": "李某某", "role": "respondent"}],
        "sessions": [{"id": "s1", "at": "2026-12-03T01:30:00+00:00", "place": "柳湾村调解室", "status": "held",
                      "attendance": ["王某某", "李某某"], "minutes": "双方陈述意见", "parties": ["王某某", "李某某"]}],
        "pauses": [{"reason": "appraisal", "note": "测绘", "paused_at": "2026-12-01T02:00:00+00:00",
                    "resumed_at": "2026-12-01T03:00:00+00:00"}],
        "outcome": {"outcome": "agreement", "facts": "占用通道", "judicial_confirmation": False,
                    "terms": [{"party": "李某某", "obligation": "拆除院墙", "due": "2026-12-20"}],
                    "performance_due": "2026-12-20", "at": "2026-12-03T02:00:00+00:00"}}


class _Services:
    """The services as the console sees them: what each path answers, what was asked."""
    asked = []

    def __init__(self, urls, token, forwarded_for=None):
        self.token = token

    def get(self, service, path, params=None):
        self.asked.append((service, path, params, self.token))
        if path == "/files":
            return [{**FILE, "status": "open", "outcome": None, "sessions": [
                {"id": "s2", "at": datetime.now(ZONE).replace(hour=23, minute=0).isoformat(), "place": "村委会",
                 "status": "scheduled"}]}]
        if path.startswith("/files/"):
            return FILE
        raise console_app.ApiError(404, {"detail": "not yet"})  # reporting has no timeline yet

    def document(self, service, path):
        self.asked.append((service, path, None, self.token))
        return b"%PDF-1.4 the agreement", "attachment; filename*=UTF-8''QS-2026-000001-M1.pdf"


def _console(monkeypatch, services, subject, role, scope):
    """The console in-process with `services` standing in, signed in as `subject`."""
    monkeypatch.setattr(console_app, "Services", services)
    services.asked = []
    settings = config.console_settings()
    client = Client(console_app.application(settings, settings.county_file))
    client.set_cookie("fengqiao_token", auth.issue(settings.jwt_secret, settings.jwt_audience, subject, [role], scope))
    return client


@pytest.fixture
def browser(monkeypatch):
    return _console(monkeypatch, _Services, "QS-XUCS", "mediator", "QS01")


def test_a_mediator_lands_on_their_files_with_the_calendar(browser):
    assert browser.get("/").headers["Location"].endswith("/mediate")
    page = browser.get("/mediate")
    assert page.status_code == 200
    assert ("mediation", "/files", {"mediator": "QS-XUCS"}) == _Services.asked[0][:3]  # their own files
    html = page.get_data(as_text=True)
    assert "徐长顺承办的卷宗" in html and 'href="/mediate/QS-2026-000001-M1"' in html
    assert "<time>23:00</time> 村委会" in html and ">调解</a>" in html  # the calendar, the navigation


def test_a_concluded_file_shows_its_record_and_the_agreement_to_download(browser):
    html = browser.get("/mediate/QS-2026-000001-M1").get_data(as_text=True)
    assert "王某某（申请人）" in html and "鉴定：测绘" in html and "李某某：拆除院墙（2026-12-20 前）" in html
    assert 'id="agreement-pdf" href="/mediate/QS-2026-000001-M1/agreement.pdf"' in html
    assert 'data-action="performance"' in html and "时间线稍后生成" in html  # the agreement's check is next
    assert "最迟 2026-12-20 履行完毕" in html


def test_the_agreement_pdf_comes_through_the_console_with_the_persons_token(browser):
    pdf = browser.get("/mediate/QS-2026-000001-M1/agreement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and pdf.headers["Content-Disposition"].startswith("attachment")
    service, path, _, token = _Services.asked[-1]
    assert (service, path) == ("mediation", "/files/QS-2026-000001-M1/agreement.pdf")
    assert auth.verify(config.console_settings().jwt_secret, "fengqiao", token).subject == "QS-XUCS"


def test_a_form_for_an_action_mediation_does_not_have_is_not_found(browser):
    assert browser.post("/mediate/QS-2026-000001-M1/delete", data={"csrf": "x"}).status_code == 404


def test_no_page_sits_under_a_prefix_the_gateway_gives_a_service():
    prefixes = {rule.rule.split("/")[1] for rule in console_app.URLS.iter_rules()}
    assert "mediate" in prefixes and not prefixes & set(config.SERVICES)  # /mediation/… is mediation's API


def test_the_window_asks_for_a_repeat_check_only_with_a_place_a_category_and_a_person():
    typed = [("csrf", "x"), ("channel", "visit"), ("location", "QS01"), ("category", "heating"), ("subject", "供暖"),
             ("petitioners.0.name", "李某某"), ("petitioners.0.id_number", "110101199003074514"),
             ("petitioners.0.phone", ""), ("petitioners.1.phone", "13800138000"), ("petitioners.2.name", "王某某")]
    assert views.repeat_probe(typed) == {"location": "QS01", "category": "heating", "petitioners": [
        {"id_number": "110101199003074514"}, {"phone": "13800138000"}]}
    assert views.repeat_probe([p for p in typed if p[0] != "category"]) is None
    assert views.repeat_probe([p for p in typed if "id_number" not in p[0] and "phone" not in p[0]]) is None


class _Intake(_Services):
    """Intake for the window: registers anything; a case the clerk may not see is not found."""
    def post(self, service, path, body=None, headers=None):
        self.asked.append((service, path, body, self.token))
        return 201, {"number": "QS-2026-000009", "outcome": "registered"}

    def get(self, service, path, params=None):
        self.asked.append((service, path, params, self.token))
        if path == "/guide":
            return []
        raise console_app.ApiError(404, {"detail": "no case"})


@pytest.fixture
def window(monkeypatch):
    client = _console(monkeypatch, _Intake, "QS-clerk", "clerk", "QS")
    return client, csrf_token(client.get_cookie("fengqiao_token").value)


@pytest.mark.parametrize("category, receipt", [("cadre_misconduct", 200), ("heating", 404)])
def test_a_discipline_report_the_clerk_may_not_see_gets_a_receipt_with_its_number_only(window, category, receipt):
    client, csrf = window
    sent = client.post("/window", data={"csrf": csrf, "channel": "visit", "location": "QS01", "category": category,
                                        "subject": "反映问题", "description": "详情", "petitioners.0.name": "李某某"})
    assert sent.status_code == 302
    shown = client.get(sent.headers["Location"])
    assert shown.status_code == receipt  # a case not found for another reason stays not found
    if receipt == 200:
        html = shown.get_data(as_text=True)
        assert "QS-2026-000009" in html and "纪检监察" in html and "反映问题" not in html


def test_a_receipt_seal_cannot_be_made_by_the_clerk_nor_kept_past_the_day(window, monkeypatch):
    client, csrf = window
    sent = client.post("/window", data={"csrf": csrf, "channel": "visit", "location": "QS01",
                                        "category": "cadre_misconduct", "subject": "反映问题", "description": "详情",
                                        "petitioners.0.name": "李某某"})
    address = sent.headers["Location"]
    assert client.get(address.replace("000009", "000010")).status_code == 404  # another number
    assert client.get(address.replace("seal=", "seal=0")).status_code == 404
    assert client.get(address + "é").status_code == 404  # never a 500
    token = client.get_cookie("fengqiao_token").value  # what the clerk knows signs nothing
    issued = int(time.time())
    forged = console_app.receipt_seal(token, "QS-clerk", "QS-2026-000010", "discipline", issued)
    assert client.get(f"/receipt/QS-2026-000010?kind=discipline&issued={issued}&seal={forged}").status_code == 404
    monkeypatch.setattr(console_app.time, "time", lambda: issued + 9 * 3600)
    assert client.get(address).status_code == 404


def test_an_open_file_offers_its_forms_and_a_refused_mediators_change_keeps_the_ticks(browser, monkeypatch):
    open_file = {**FILE, "status": "open", "outcome": None, "performance": None, "sessions": [
        {"id": "s9", "at": "2026-12-09T01:30:00+00:00", "place": "村委会", "status": "scheduled", "parties": []}]}
    monkeypatch.setattr(_Services, "get", lambda self, service, path, params=None: open_file
                        if path.startswith("/files/") else (_ for _ in ()).throw(console_app.ApiError(404, {})))

    def refuse(self, service, path, body=None, headers=None):
        raise console_app.ApiError(400, {"errors": [{"field": "mediators", "message": "not mediators of this file: X"}]})
    monkeypatch.setattr(_Services, "post", refuse, raising=False)
    html = browser.get("/mediate/QS-2026-000001-M1").get_data(as_text=True)
    assert 'id="file-cancel-1"' in html and 'id="file-complexity"' in html and 'id="fold-mediators"' in html
    assert 'value="QS-XUCS" checked' in html and 'value="QS-GAOXM" >' in html  # the committee's other mediator
    csrf = csrf_token(browser.get_cookie("fengqiao_token").value)
    refused = browser.post("/mediate/QS-2026-000001-M1/mediators",
                           data={"csrf": csrf, "mediators": "QS-GAOXM", "reason": "回避"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "不是本卷宗的调解员" in html
    assert 'value="QS-GAOXM" checked' in html and 'value="QS-XUCS" checked' not in html  # as ticked


def test_each_case_action_is_offered_to_exactly_the_roles_routing_lets_take_it():
    from fengqiao.web import routes_of
    from services.routing.service import RoutingService
    routes = {r.url: r for _, r in routes_of(RoutingService) if r.method == "POST"}
    for name, action in views.ACTIONS.items():
        assert set(action["roles"]) == set(routes[f"/cases/<number>/{name}"].roles), name
    assert set(views.WHISTLE_REPORT["roles"]) == set(routes["/cases/<number>/whistles/<whistle_id>/report"].roles)
