"""What to tell whom (services/notify): the shipped notify file and its templates, each trigger's
recipients and channels on the sample county, one message per occasion, quiet hours, backoff."""
import shutil
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from fengqiao import deadlines
from fengqiao.calendar import ConfigError
from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from services.notify import channels, domain, rules

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
DEADLINES = deadlines.load(REPO_ROOT / "deploy/county/deadlines.yaml")
NOTIFY_FILE = REPO_ROOT / "deploy/county/notify.yaml"
RULES = rules.load(NOTIFY_FILE)
HELPERS = domain.template_helpers(COUNTY, DEADLINES)
TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)  # 12:00 in the county
CASE = {"case_id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "number": "QS-2026-000001", "township": "QS"}


def event(type, event_id="e-1", **data):
    return {"id": event_id, "type": type, "correlationid": "c-1", "data": {**CASE, **data}}


def deadline_event(kind="due_soon", event_id="e-1", **data):
    base = {"deadline_id": "d-1", "policy": "handling", "owner_id": CASE["case_id"], "due_date": "2026-05-06",
            "due_at": "2026-05-06T16:00:00+00:00", "started_at": "2026-03-02T01:00:00+00:00", "share_used": 0.8,
            "context": {"case_id": CASE["case_id"], "body": "QS-JUDICIAL"}}
    base.update({"threshold": "80%"} if kind == "due_soon" else {"days_overdue": 0})
    return event(f"deadline.{kind}", event_id, **{**base, **data})


def sent(e, now=NOON):
    return {(m["kind"], m["recipient"], m["channel"]) for m in domain.messages(RULES, COUNTY, HELPERS, e, now, TZ)}


def test_the_shipped_file_and_every_template_load():
    assert len(RULES.triggers) >= 12 and RULES.quiet_from == time(21) and RULES.quiet_to == time(8)
    assert {t.message for t in RULES.triggers} <= set(RULES.templates.list_templates())


@pytest.mark.parametrize("e, expected", [
    (event("case.assigned", body="QS01-MEDIATION", body_name="柳湾村人民调解委员会", category="neighbour_dispute",
           reason="小事不出村"),
     {("case_assigned", "QS01-MEDIATION", "inbox"), ("case_assigned", "QS-XUCS", "inbox"),
      ("case_assigned", "QS-XUCS", "email")}),
    (event("case.whistle_raised", bodies=["QS-LAND"], reason="违建"),
     {("whistle_raised", "QS-LAND", "inbox"), ("whistle_raised", "QS-HUGW", "inbox"),
      ("whistle_raised", "QS-HUGW", "sms")}),
    (deadline_event(), {("deadline_due_soon", "QS-HUANGWD", "inbox"), ("deadline_due_soon", "QS-HUANGWD", "sms")}),
    (deadline_event("overdue", days_overdue=0), {("deadline_overdue", "QS-HUANGWD", "inbox"),
                                                  ("deadline_overdue", "QS-HUANGWD", "sms")}),
    (deadline_event("overdue", days_overdue=1),  # a day on: the supervisor too
     {("deadline_overdue", "QS-HUANGWD", "inbox"), ("deadline_overdue", "QS-HUANGWD", "sms"),
      ("deadline_overdue_escalated", "QS-ZHOUJ", "inbox"), ("deadline_overdue_escalated", "QS-ZHOUJ", "email")}),
    (deadline_event("due_soon", context={"case_id": CASE["case_id"], "file_number": "QS-2026-000001-M1",
                                         "mediators": ["QS-XUCS"]}),  # a mediation file's clock: its mediators
     {("deadline_due_soon", "QS-XUCS", "inbox"), ("deadline_due_soon", "QS-XUCS", "sms")}),
    (event("case.risk_changed", to="red", reasons=["threat: 扬言进京"], **{"from": "yellow"},
           responsible={"leader": {"id": "QS-WANGHM"}, "county": {"id": "SH-WENJP"}}),
     {("risk_red", "QS-WANGHM", "inbox"), ("risk_red", "QS-WANGHM", "sms"), ("risk_red", "SH-WENJP", "inbox"),
      ("risk_red", "SH-WENJP", "sms")}),
    (event("case.risk_changed", to="yellow", responsible={"leader": {"id": "QS-LIUXF"}}), set()),
    (event("case.accepted"), {("petitioner_accepted", "petitioner", "sms")}),
    (event("case.not_accepted", reason="已起诉", route_label="向人民法院提起诉讼"),
     {("petitioner_not_accepted", "petitioner", "sms")}),
    (event("case.extended", days=30, reason="鉴定"), {("petitioner_extended", "petitioner", "sms")}),
    (event("case.resolved", reply="院墙已拆除。"), {("petitioner_replied", "petitioner", "sms")}),
    (event("case.signed"), set()),
])
def test_each_trigger_reaches_the_right_people_by_the_right_channels(e, expected):
    assert sent(e) == expected


def test_a_discipline_reports_escalation_stays_with_its_discipline_body():
    late = deadline_event("overdue", days_overdue=3, context={"case_id": CASE["case_id"], "body": "QS-DISCIPLINE"})
    assert {kind for kind, _, _ in sent(late)} == {"deadline_overdue"}  # its handlers; no supervisor, no township head
    assert {who for _, who, _ in sent(late)} == {s.id for s in COUNTY.staff_of("QS-DISCIPLINE", "handler")} != set()
    ordinary = deadline_event("overdue", days_overdue=3)
    assert {kind for kind, _, _ in sent(ordinary)} == {"deadline_overdue", "deadline_overdue_escalated"}


def test_three_days_overdue_reaches_the_township_head():
    assert ("deadline_overdue_escalated", "QS-LIUXF", "sms") in sent(deadline_event("overdue", days_overdue=3))


def test_a_message_s_identity_is_the_occasion_not_the_event():
    first = domain.messages(RULES, COUNTY, HELPERS, deadline_event(event_id="e-1"), NOON, TZ)
    again = domain.messages(RULES, COUNTY, HELPERS, deadline_event(event_id="e-2"), NOON, TZ)  # same deadline, 80%
    assert [m["dedup_key"] for m in first] == [m["dedup_key"] for m in again]
    later = domain.messages(RULES, COUNTY, HELPERS, deadline_event(event_id="e-3", threshold="1d"), NOON, TZ)
    assert not {m["dedup_key"] for m in first} & {m["dedup_key"] for m in later}
    accepted = [event("case.accepted", event_id=i) for i in ("e-4", "e-5")]
    keys = [domain.messages(RULES, COUNTY, HELPERS, e, NOON, TZ)[0]["dedup_key"] for e in accepted]
    assert keys[0] != keys[1]  # two events that are two occasions


def test_the_words_are_chinese_with_the_case_and_the_county_s_signature_on_sms():
    [inbox, sms] = sorted(domain.messages(RULES, COUNTY, HELPERS, deadline_event(), NOON, TZ), key=lambda m: m["channel"])
    assert inbox["subject"] == "【提醒】QS-2026-000001 办理期限将至"
    assert "案件 QS-2026-000001的办理期限为2026年5月6日，已用时80%" in inbox["text"] and inbox["text"].startswith("黄卫东")
    assert sms["text"].startswith("【松河县矛盾纠纷调处】黄卫东：")
    [reply] = domain.messages(RULES, COUNTY, HELPERS, event("case.resolved", reply="院墙已拆除。"), NOON, TZ)
    assert "已办结：院墙已拆除。" in reply["text"] and "13800138000" not in str(reply)


def test_a_petitioner_sms_at_night_waits_for_the_morning():
    night = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)  # 23:00 in the county
    assert domain.held_until(RULES, night, TZ) == datetime(2026, 3, 3, 8, 0, tzinfo=TZ)
    early = datetime(2026, 3, 2, 22, 30, tzinfo=timezone.utc)  # 06:30 on the 3rd
    assert domain.held_until(RULES, early, TZ) == datetime(2026, 3, 3, 8, 0, tzinfo=TZ)
    assert domain.held_until(RULES, NOON, TZ) == NOON
    [m] = domain.messages(RULES, COUNTY, HELPERS, event("case.accepted"), night, TZ)
    assert m["not_before"] == datetime(2026, 3, 3, 8, 0, tzinfo=TZ)
    staff = domain.messages(RULES, COUNTY, HELPERS, deadline_event(), night, TZ)
    assert {m["not_before"] for m in staff} == {night}  # staff reminders are not held


def test_failures_back_off_exponentially_then_give_up():
    waits = [domain.retry_at(RULES, n, NOON) for n in range(1, RULES.attempts + 1)]
    assert [(w - NOON).total_seconds() for w in waits[:-1]] == [30, 60, 120, 240, 480, 960, 1920]
    assert waits[-1] is None  # the last failure is the last


def test_an_extended_deadline_missed_again_is_a_new_occasion():
    first = domain.messages(RULES, COUNTY, HELPERS, deadline_event("overdue", event_id="e-1"), NOON, TZ)
    extended = deadline_event("overdue", event_id="e-2", due_at="2026-06-05T16:00:00+00:00", due_date="2026-06-05")
    again = domain.messages(RULES, COUNTY, HELPERS, extended, NOON, TZ)
    assert not {m["dedup_key"] for m in first} & {m["dedup_key"] for m in again}


def test_a_message_whose_template_fails_on_an_event_carries_the_error_not_a_blank():
    odd = deadline_event()
    del odd["data"]["due_date"]  # an event without a field its template uses
    found = domain.messages(RULES, COUNTY, HELPERS, odd, NOON, TZ)
    assert found and all(m["error"].startswith("template deadline_due_soon: UndefinedError") for m in found)
    assert all(m["error"] is None for m in domain.messages(RULES, COUNTY, HELPERS, deadline_event(), NOON, TZ))


def test_the_helpers_the_templates_may_use_are_the_ones_given():
    assert set(HELPERS) == set(rules.HELPERS)


def _copy(tmp_path, change):
    shutil.copytree(REPO_ROOT / "deploy/county/messages", tmp_path / "messages")
    raw = yaml.safe_load(NOTIFY_FILE.read_text(encoding="utf-8"))
    change(raw)
    (tmp_path / "notify.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return tmp_path / "notify.yaml"


@pytest.mark.parametrize("change, message", [
    (lambda r: r["triggers"][0].update(to=["the_mayor"]), r"triggers\[0\]\.to: unknown recipient 'the_mayor'"),
    (lambda r: r["triggers"][0].update(message="nope"), r"triggers\[0\]\.message: no template messages/nope.txt"),
    (lambda r: r["triggers"][0].update(by=["pigeon"]), r"triggers\[0\]\.by: expected a list of channels"),
    (lambda r: r["triggers"][0].update(to=["webhook:nobody"]), r"no webhook named 'nobody'"),
    (lambda r: r["triggers"][0].update(when={"colour": ["red"]}), r"triggers\[0\]\.when: conditions are among"),
    (lambda r: r.update(quiet_hours={"from": "9pm", "to": "08:00"}), r"quiet_hours\.from: '9pm' is not a time"),
    (lambda r: r["triggers"][0].update(event="assigned"), r"triggers\[0\]\.event: 'assigned' is not an event type"),
    (lambda r: r["channels"]["sms"].pop("url"), r"channels\.sms: a trigger sends by sms: it needs url"),
    (lambda r: r.update(webhooks={"x": {"url": "https://x.example/hook"}}), r"webhooks\.x: needs a 'url'"),
])
def test_mistakes_in_the_notify_file_are_refused_by_entry(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        rules.load(_copy(tmp_path, change))


def test_a_template_naming_a_field_its_event_lacks_is_refused_at_load(tmp_path):
    path = _copy(tmp_path, lambda r: None)
    (tmp_path / "messages" / "petitioner_accepted.txt").write_text("受理告知\n{{ data.reply }}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"petitioner_accepted\.txt does not render for a case\.accepted event"):
        rules.load(path)


def test_a_template_that_does_not_parse_is_refused_with_its_line(tmp_path):
    path = _copy(tmp_path, lambda r: None)
    (tmp_path / "messages" / "case_assigned.txt").write_text("标题\n{{ data.number ", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"messages/case_assigned\.txt line 2"):
        rules.load(path)


def test_what_is_announced_names_the_recipient_never_an_address():
    message = {"id": "m-1", "case_id": CASE["case_id"], "number": CASE["number"], "kind": "petitioner_accepted",
               "channel": "sms", "recipient": "petitioner", "attempts": 5}
    assert domain.outcome_event(message, "SMS provider answered 503") == {
        "notification_id": "m-1", "case_id": CASE["case_id"], "number": CASE["number"], "kind": "petitioner_accepted",
        "channel": "sms", "recipient": "petitioner", "attempts": 5, "reason": "SMS provider answered 503"}


def test_the_monthly_digest_names_a_rising_category_to_the_township_s_leaders():
    hot = {"overdue_cases": 2, "open_red_cases": 1, "repeat_petitions_growing": [], "clusters_growing": [],
           "rising_categories": [{"place": "BY01", "category": "land_dispute", "count": 5, "trailing_average": 1.67,
                                  "same_month_last_year": 1}]}
    found = domain.digest_messages(RULES, COUNTY, HELPERS, "BY", "2026-11", hot, NOON)
    leaders = {COUNTY.leader_with_duty(d, "BY").id for d in ("party_secretary", "township_head",
                                                              "political_legal_member", "governance_center_director")}
    assert {m["recipient"] for m in found} == leaders and {m["channel"] for m in found} == {"inbox", "email"}
    text = found[0]["text"]
    assert f"{COUNTY.nodes['BY01'].name}土地纠纷5件（近三月月均1.67件，去年同月1件）" in text
    assert "当前超期未办结2件，红色风险1件" in text and found[0]["subject"].startswith("【预警提示】")
    assert {m["dedup_key"].split("|")[:3] == ["digest", "BY", "2026-11"] for m in found} == {True}
    quiet = domain.digest_messages(RULES, COUNTY, HELPERS, "BY", "2026-11", {**hot, "rising_categories": []}, NOON)
    assert "本月无明显上升的纠纷类别" in quiet[0]["text"]


def test_a_digest_made_in_a_month_is_about_the_month_before():
    from datetime import date

    assert domain.digest_month(date(2026, 12, 1)) == "2026-11" and domain.digest_month(date(2027, 1, 15)) == "2026-12"


def test_an_e_mail_keeps_its_message_id_on_every_attempt(monkeypatch):
    sent = []

    class Recorder:  # the SMTP conversation itself is tested against a real server (integration)
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(message)

    monkeypatch.setattr(channels.smtplib, "SMTP", Recorder)
    settings = {"host": "127.0.0.1", "port": 25, "sender": "noreply@songhe.example"}
    for _ in range(2):
        channels.send_email(settings, "qs-xucs@songhe.example", "【交办】QS-2026-000001", "请签收", "0b6f9a52-8d1e")
    assert sent[0]["Message-ID"] == sent[1]["Message-ID"] == "<0b6f9a52-8d1e@songhe.example>"
