"""Notify on the real broker and database, talking to real servers: an SMTP server (aiosmtpd)
and HTTP receivers standing in for the SMS provider and a webhook subscriber, each in a process
of its own; intake running for petitioners' phones. Each trigger reaches its people by its
channels, once, at a decent hour; failures are retried, then reported."""
import json
import os
import shutil
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml

from fengqiao import auth, catalog, config
from tests.support.events import contract_event
from services.intake.schemas import REGISTRATION_EXAMPLE
from services.intake.service import IntakeService
from services.notify import store
from services.notify.service import NotifyService
from tests.integration.conftest import eventually, outbox_events, pool_of, publish, web_port
from tests.support import standins

NOTIFY_DIR = config.REPO_ROOT / "services" / "notify"
INTAKE_DIR = config.REPO_ROOT / "services" / "intake"
CASE_ID = "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10"
SECRET = "webhook-test-secret"


def token(*roles, who="tester", scope="SH"):
    s = config.settings("notify")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, who, roles, scope)}


@pytest.fixture
def standin(tmp_path):
    """start(kind, *options) → (port, read()): a stand-in server and what it accepted so far."""
    processes = []

    def start(kind, *options):
        out = tmp_path / f"{kind}-{len(processes)}.jsonl"
        process, port = standins.launch(kind, out, *options)
        processes.append(process)
        return port, lambda: standins.accepted(out)

    yield start
    for p in processes:
        p.terminate()
        p.wait()


@pytest.fixture
def notify_file(tmp_path):
    """write(change) → path: the shipped notify file and messages, changed for this test."""
    shutil.copytree(config.REPO_ROOT / "deploy/county/messages", tmp_path / "messages")
    path = tmp_path / "notify.yaml"

    def write(change):
        raw = yaml.safe_load((config.REPO_ROOT / "deploy/county/notify.yaml").read_text(encoding="utf-8"))
        raw["delivery"] = {"attempts": 3, "backoff_seconds": 1, "max_backoff_seconds": 2}
        raw["quiet_hours"] = {"from": "00:00", "to": "00:01"}  # hardly ever: the tests run by day and night
        change(raw)
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        return path
    return write


@pytest.fixture
def stack(run_service, fresh_database, isolated, notify_file, standin, monkeypatch):
    """intake, and notify wired to the stand-ins; start(change=..., replicas=1)."""
    monkeypatch.setenv("FENGQIAO_SMS_API_KEY", "sms-test-key")
    monkeypatch.setenv("FENGQIAO_WEBHOOK_SECRET_PLATFORM", SECRET)
    monkeypatch.setenv("FENGQIAO_WEBHOOK_PRIVATE_ADDRESSES", "allow")  # the stand-ins listen on loopback
    intake = run_service(IntakeService, fresh_database(INTAKE_DIR))
    intake_url = f"http://127.0.0.1:{web_port(intake)}"

    def start(smtp_options=(), sms_options=(), change=lambda raw: None, replicas=1):
        smtp_port, mail = standin("smtp", *smtp_options)
        sms_port, sms = standin("http", *sms_options)
        hook_port, hooks = standin("http", "--secret", SECRET)

        def wire(raw):
            raw["channels"] = {"email": {"host": "127.0.0.1", "port": smtp_port, "sender": "noreply@songhe.example"},
                               "sms": {"url": f"http://127.0.0.1:{sms_port}/v1/sms", "key_env": "FENGQIAO_SMS_API_KEY"}}
            raw["webhooks"] = {"platform": {"url": f"http://127.0.0.1:{hook_port}/events",
                                            "secret_env": "FENGQIAO_WEBHOOK_SECRET_PLATFORM"}}
            raw["triggers"].append({"event": "case.assigned", "message": "case_assigned", "to": ["webhook:platform"]})
        path = notify_file(lambda raw: (wire(raw), change(raw)))
        url = fresh_database(NOTIFY_DIR)
        cls = isolated(NotifyService)
        containers = [run_service(cls, url, NOTIFY_FILE=str(path), NOTIFY_DISPATCH_SECONDS=0.2, WEBHOOK_DISPATCH_SECONDS=0.2,
                                  INTAKE_URL=intake_url,
                                  COUNTY_RELOAD_SECONDS=0) for _ in range(replicas)]
        return {"base": f"http://127.0.0.1:{web_port(containers[0])}", "db": url, "mail": mail, "sms": sms,
                "hooks": hooks, "intake": intake_url, "file": path, "rewire": lambda c: notify_file(lambda r: (wire(r), c(r)))}
    return start


def routing_event(type, **data):
    base = {"case_id": CASE_ID, "number": "QS-2026-000001", "township": "QS", "status": "assigned"}
    return contract_event("routing", type, {**base, **data}, subject=CASE_ID, correlationid="corr-1")


ASSIGNED = dict(body="QS01-MEDIATION", body_name="柳湾村人民调解委员会", body_level="village", tier="village",
                co_bodies=[], rule="small-matter-in-the-village", reason="小事不出村", assigned_by="rules",
                channel_class="civil_dispute", category="neighbour_dispute")


def statuses(s, number="QS-2026-000001"):
    r = requests.get(f"{s['base']}/notifications?case={number}", headers=token("clerk"))
    return {(n["kind"], n["recipient"], n["channel"]): n for n in r.json()}


def test_an_assignment_reaches_the_body_s_inbox_its_handler_by_email_and_the_webhook_signed(stack, amqp_uri):
    s = stack()
    publish(amqp_uri, "routing", routing_event("case.assigned", **ASSIGNED))
    mail = eventually(s["mail"])
    hooks = eventually(s["hooks"])
    assert mail[0]["to"] == ["qs-xucs@songhe.example"]
    assert "Subject: =?utf-8?" in mail[0]["content"] or "【交办】" in mail[0]["content"]
    [hook] = hooks
    assert hook["verified"] is True and json.loads(hook["body"])["type"] == "case.assigned"
    assert hook["headers"]["X-Fengqiao-Delivery"]
    done = eventually(lambda: (st := statuses(s)) and all(n["status"] == "sent" for n in st.values()) and st)
    assert set(done) == {("case_assigned", "QS01-MEDIATION", "inbox"), ("case_assigned", "QS-XUCS", "inbox"),
                         ("case_assigned", "QS-XUCS", "email"), ("case_assigned", "platform", "webhook")}
    inbox = requests.get(f"{s['base']}/inbox?unread=true", headers=token("handler", who="QS-XUCS")).json()
    assert {m["recipient"] for m in inbox} == {"QS-XUCS", "QS01-MEDIATION"}  # their own and their body's
    assert inbox[0]["subject"].startswith("【交办】")
    read = requests.post(f"{s['base']}/inbox/{inbox[0]['id']}/read", headers=token("handler", who="QS-XUCS"))
    assert read.status_code == 200 and read.json()["read_at"]
    stranger = requests.post(f"{s['base']}/inbox/{inbox[1]['id']}/read", headers=token("handler", who="BY-NOBODY"))
    assert stranger.status_code == 404
    events = eventually(lambda: [e for e in outbox_events(s["db"]) if e["type"] == "notification.sent"] if len(
        [e for e in outbox_events(s["db"]) if e["type"] == "notification.sent"]) == 4 else None)
    documented = catalog.load()
    assert all(catalog.data_errors(documented, e) == [] for e in events)


def _register(s):
    clerk = {"Authorization": "Bearer " + auth.issue(config.settings("intake").jwt_secret, "fengqiao", "c", ["clerk"], "SH")}
    r = requests.post(f"{s['intake']}/cases", json=REGISTRATION_EXAMPLE, headers=clerk)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_petitioner_is_told_by_sms_with_the_phone_fetched_from_intake_and_never_kept(stack, amqp_uri):
    s = stack()
    case = _register(s)
    phone = REGISTRATION_EXAMPLE["petitioners"][0]["phone"]
    publish(amqp_uri, "routing", routing_event("case.accepted", case_id=case["id"], number=case["number"],
                                               status="in_progress", body="QS01-MEDIATION", accepted_by="QS-XUCS"))
    [sms] = eventually(s["sms"])
    body = json.loads(sms["body"])
    assert body["to"] == phone and body["text"].startswith("【松河县矛盾纠纷调处】您反映的事项（编号 " + case["number"])
    assert sms["headers"]["Authorization"] == "Bearer sms-test-key"
    eventually(lambda: statuses(s, case["number"])[("petitioner_accepted", "petitioner", "sms")]["status"] == "sent")
    _no_phone_in(s["db"], phone)  # nothing of notify's keeps the number


def _no_phone_in(url, phone):
    with pool_of(url) as pool, pool.connection() as conn:
        tables = [r["table_name"] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        for table in tables:
            dump = json.dumps([dict(r) for r in conn.execute(f"SELECT * FROM {table}")], default=str)
            assert phone not in dump and phone[-8:] not in dump, table


def test_a_refusal_that_repeats_the_number_keeps_it_out_and_an_anonymous_petitioner_is_skipped(stack, amqp_uri):
    s = stack(sms_options=("--fail", "99", "--status", "400", "--echo"))
    case = _register(s)
    phone = REGISTRATION_EXAMPLE["petitioners"][0]["phone"]
    publish(amqp_uri, "routing", routing_event("case.accepted", case_id=case["id"], number=case["number"],
                                               status="in_progress", body="QS01-MEDIATION", accepted_by="QS-XUCS"))
    failed = eventually(lambda: (n := statuses(s, case["number"]).get(("petitioner_accepted", "petitioner", "sms")))
                        and n["status"] == "failed" and n)
    assert failed["last_error"] == "SMS provider answered 400" and failed["attempts"] == 1  # refused for good
    _no_phone_in(s["db"], phone)
    clerk = {"Authorization": "Bearer " + auth.issue(config.settings("intake").jwt_secret, "fengqiao", "c", ["clerk"], "SH")}
    anonymous = {**REGISTRATION_EXAMPLE, "channel": "letter", "anonymous": True, "petitioners": [],
                 "subject": "匿名来信反映噪声扰民", "category": "environmental_pollution"}
    quiet_case = requests.post(f"{s['intake']}/cases", json=anonymous, headers=clerk).json()
    publish(amqp_uri, "routing", routing_event("case.accepted", case_id=quiet_case["id"], number=quiet_case["number"],
                                               status="in_progress", body="QS-ENFORCE", accepted_by="QS-x"))
    skipped = eventually(lambda: (n := statuses(s, quiet_case["number"]).get(("petitioner_accepted", "petitioner", "sms")))
                         and n["status"] == "skipped" and n)
    assert "no phone" in skipped["last_error"]
    assert not [e for e in outbox_events(s["db"]) if e["data"].get("number") == quiet_case["number"]]


def test_only_a_service_token_gets_the_petitioners_phones(stack):
    s = stack()
    case = _register(s)
    url = f"{s['intake']}/cases/{case['number']}/contacts"
    clerk = {"Authorization": "Bearer " + auth.issue(config.settings("intake").jwt_secret, "fengqiao", "c", ["clerk"], "SH")}
    service = {"Authorization": "Bearer " + auth.issue(config.settings("intake").jwt_secret, "fengqiao", "notify",
                                                       ["service"], "SH")}
    assert requests.get(url, headers=clerk).status_code == 403 and requests.get(url).status_code == 401
    assert requests.get(url, headers=service).json() == [{"position": 0, "phone": REGISTRATION_EXAMPLE["petitioners"][0]["phone"]}]
    assert requests.get(f"{s['intake']}/cases/QS-2026-999999/contacts", headers=service).status_code == 404


def test_a_petitioner_sms_in_quiet_hours_waits_until_they_end(stack, amqp_uri):
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    quiet = {"from": (now - timedelta(hours=1)).strftime("%H:%M"), "to": (now + timedelta(hours=1)).strftime("%H:%M")}
    s = stack(change=lambda raw: raw.update(quiet_hours=quiet))
    case = _register(s)
    publish(amqp_uri, "routing", routing_event("case.extended", case_id=case["id"], number=case["number"],
                                               status="in_progress", days=30, approver="QS-LIUXF", reason="鉴定"))
    held = eventually(lambda: statuses(s, case["number"]).get(("petitioner_extended", "petitioner", "sms")))
    end = datetime.fromisoformat(held["next_attempt_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert held["status"] == "pending" and end.strftime("%H:%M") == quiet["to"] and end > now
    time.sleep(1)
    assert s["sms"]() == []
    s["rewire"](lambda raw: None)  # morning: the quiet hours are over (the file back to the night) …
    with pool_of(s["db"]) as pool, pool.connection() as conn:  # … and the held message is due
        conn.execute("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'")
        conn.commit()
    assert "延期" in json.loads(eventually(s["sms"])[0]["body"])["text"]


def test_the_same_deadline_notice_three_times_and_again_sends_one_message_with_two_replicas(stack, amqp_uri):
    s = stack(replicas=2)
    data = {"deadline_id": "3f2b8c1e-5d4a-4b6f-9e8d-7c6b5a4f3e2d", "policy": "handling", "owner_id": CASE_ID,
            "case_id": CASE_ID, "started_at": "2026-03-02T01:30:00+00:00", "due_at": "2026-05-06T16:00:00+00:00",
            "due_date": "2026-05-06", "share_used": 0.8, "context": {"case_id": CASE_ID, "body": "QS-JUDICIAL"},
            "threshold": "80%"}
    notice = contract_event("routing", "deadline.due_soon", {**data, "number": "QS-2026-000001", "township": "QS"},
                       subject=CASE_ID, correlationid="corr-1")
    for _ in range(3):
        publish(amqp_uri, "routing", notice)  # redelivered
    publish(amqp_uri, "routing", {**notice, "id": "another-event-for-the-same-threshold"})
    eventually(s["sms"])
    time.sleep(1.5)  # both replicas sweep and dispatch several times more
    assert len(s["sms"]()) == 1 and json.loads(s["sms"]()[0]["body"])["to"] == "13900001010"  # 黄卫东, 司法所
    kept = statuses(s)
    assert set(kept) == {("deadline_due_soon", "QS-HUANGWD", "inbox"), ("deadline_due_soon", "QS-HUANGWD", "sms")}


def test_an_smtp_server_that_refuses_twice_then_accepts_gets_the_message_once(stack, amqp_uri):
    s = stack(smtp_options=("--refuse", "2"))
    publish(amqp_uri, "routing", routing_event("case.assigned", **ASSIGNED))
    email = eventually(lambda: (n := statuses(s).get(("case_assigned", "QS-XUCS", "email"))) and n["status"] == "sent"
                       and n, timeout=15)
    assert email["attempts"] == 3 and len(s["mail"]()) == 1


def test_a_message_that_keeps_failing_is_marked_failed_with_its_reason(stack, amqp_uri):
    s = stack(sms_options=("--fail", "99", "--status", "503"))
    publish(amqp_uri, "routing", routing_event("case.whistle_raised", status="in_progress", whistle_id=CASE_ID,
                                               bodies=["QS-LAND"], reason="违建", raised_by="QS-HUANGWD"))
    failed = eventually(lambda: (n := statuses(s).get(("whistle_raised", "QS-HUGW", "sms"))) and n["status"] == "failed"
                        and n, timeout=15)
    assert failed["attempts"] == 3 and "503" in failed["last_error"]
    [event] = [e for e in outbox_events(s["db"]) if e["type"] == "notification.failed"]
    assert event["data"]["reason"] == "SMS provider answered 503" and event["data"]["recipient"] == "QS-HUGW"
    assert catalog.data_errors(catalog.load(), event) == []
    assert os.environ["FENGQIAO_SMS_API_KEY"] not in json.dumps(event)


def test_the_monthly_digest_tells_the_township_s_leaders_of_a_rising_category(
        run_service, fresh_database, isolated, notify_file, standin, amqp_uri):
    from services.reporting.service import ReportingService

    reporting = run_service(isolated(ReportingService), fresh_database(config.REPO_ROOT / "services" / "reporting"))
    tz = ZoneInfo("Asia/Shanghai")
    this_month = datetime.now(tz).replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=10)
    for i in range(4):  # four land disputes in one village last month, none before: rising
        case_id = str(uuid.uuid4())
        data = {"case_id": case_id, "number": f"BY-2026-90000{i}", "township": "BY", "location": "BY01",
                "category": "land_dispute", "channel": "visit", "channel_class": "civil_dispute", "subject": "地界",
                "registered_at": (last_month + timedelta(hours=i)).isoformat(), "petitioner_count": 1, "collective": False}
        event = contract_event("intake", "case.registered", data, subject=case_id, correlationid=case_id)
        publish(amqp_uri, "intake", {**event, "time": data["registered_at"]})
    reporting_url = f"http://127.0.0.1:{web_port(reporting)}"
    eventually(lambda: requests.get(f"{reporting_url}/stats", headers=token("clerk")).json()["total"] == 4)
    smtp_port, mail = standin("smtp")

    def channels(raw):
        raw["channels"]["email"] = {"host": "127.0.0.1", "port": smtp_port, "sender": "noreply@songhe.example"}
    url = fresh_database(NOTIFY_DIR)
    notify = [run_service(isolated(NotifyService), url, NOTIFY_FILE=str(notify_file(channels)), DIGEST_CHECK_SECONDS=0.3,
                          NOTIFY_DISPATCH_SECONDS=0.2, REPORTING_URL=reporting_url) for _ in range(2)]
    base = f"http://127.0.0.1:{web_port(notify[0])}"
    head = token("leader", who="BY-ZHANGHY", scope="BY")  # 镇长 of 白杨
    [digest] = eventually(lambda: [m for m in requests.get(f"{base}/inbox", headers=head).json()
                                   if m["kind"] == "monthly_digest"])
    assert digest["subject"].startswith("【预警提示】") and last_month.strftime("%Y-%m") in digest["subject"]
    assert "土地纠纷4件（近三月月均0.0件）" in digest["text"]
    leaders = {f"{i.lower()}@songhe.example" for i in ("BY-LIUCL", "BY-ZHANGHY", "BY-XUEJ", "BY-MENGQ")}
    eventually(lambda: leaders <= {m["to"][0] for m in mail()})  # and by e-mail
    time.sleep(1)  # both replicas look again, several times
    with pool_of(url) as pool, pool.connection() as conn:
        made = conn.execute("SELECT count(*) AS n FROM notifications WHERE kind = 'monthly_digest'"
                            " AND recipient = 'BY-ZHANGHY' AND channel = 'inbox'").fetchone()["n"]
        months = conn.execute("SELECT count(*) AS n FROM digests WHERE township = 'BY'").fetchone()["n"]
    assert (made, months) == (1, 1)


# --- webhook subscriptions ------------------------------------------------------------------------

def subscribe(s, url, events, who="county-platform", role="integrator", secret="a-secret-of-sixteen+"):
    return requests.post(f"{s['base']}/webhooks", json={"url": url, "events": events, "secret": secret},
                         headers=token(role, who=who))


def deliveries(s, subscription, who="county-platform"):
    return requests.get(f"{s['base']}/webhooks/{subscription['id']}/deliveries", headers=token("integrator", who=who)).json()


def test_a_subscription_gets_each_event_it_names_once_signed_with_its_own_secret(stack, amqp_uri, standin):
    s = stack()
    port, received = standin("http", "--secret", "a-secret-of-sixteen+")
    made = subscribe(s, f"http://127.0.0.1:{port}/in", ["case.assigned", "notification.*"])
    assert made.status_code == 201, made.text
    assert "secret" not in made.json() and made.json()["events"] == ["case.assigned", "notification.*"]
    assigned = routing_event("case.assigned", **ASSIGNED)
    for _ in range(2):
        publish(amqp_uri, "routing", assigned)  # redelivered: still one delivery
    publish(amqp_uri, "routing", routing_event("case.signed", signed_by="QS-XUCS"))  # not named: never sent
    # the assignment, and notify's own four notification.sent (two inboxes, an e-mail, the file's webhook)
    got = eventually(lambda: len(received()) == 5 and received(), timeout=15)
    time.sleep(1)  # a second dispatch round or more: nothing more comes
    assert len(received()) == 5 and all(hook["verified"] for hook in got)
    events = [json.loads(hook["body"]) for hook in got]
    assert sorted(e["type"] for e in events) == ["case.assigned"] + ["notification.sent"] * 4
    assert [e for e in events if e["type"] == "case.assigned"][0]["id"] == assigned["id"]
    assert len({hook["headers"]["X-Fengqiao-Delivery"] for hook in got}) == 5
    view = requests.get(f"{s['base']}/webhooks/{made.json()['id']}", headers=token("integrator", who="county-platform"))
    assert (view.json()["delivered"], view.json()["pending"], view.json()["failed"]) == (5, 0, 0)
    assert {d["status"] for d in deliveries(s, made.json())} == {"delivered"}


def test_a_bad_subscription_is_refused_field_by_field_and_each_integrator_sees_only_its_own(stack):
    s = stack()
    bad = subscribe(s, "ftp://user:pw@example.org/x", ["case.assigned", "case.nonsense", "nothing.*"], secret="short")
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in bad.json()["errors"]} == {"secret"}  # the schema's own errors come first
    bad = subscribe(s, "ftp://example.org/x", ["case.assigned", "case.nonsense", "nothing.*"])
    assert {e["field"] for e in bad.json()["errors"]} == {"url", "events.1", "events.2"}
    hook = "http://127.0.0.1:9/in"
    township = requests.post(f"{s['base']}/webhooks", json={"url": hook, "events": ["*"], "secret": "x" * 16},
                             headers=token("integrator", scope="QS"))
    assert township.status_code == 403  # a township's token cannot take the whole county's events
    assert subscribe(s, hook, ["*"], role="handler").status_code == 403
    assert requests.get(f"{s['base']}/webhooks", headers=token("operator")).json() == []  # nothing was written
    mine, theirs = subscribe(s, hook, ["case.*"]).json(), subscribe(s, hook, ["*"], who="hotline").json()
    listed = requests.get(f"{s['base']}/webhooks", headers=token("integrator", who="county-platform")).json()
    assert [x["id"] for x in listed] == [mine["id"]]
    assert {x["id"] for x in requests.get(f"{s['base']}/webhooks", headers=token("operator")).json()} == {
        mine["id"], theirs["id"]}
    theirs_url = f"{s['base']}/webhooks/{theirs['id']}"
    assert requests.delete(theirs_url, headers=token("integrator", who="county-platform")).status_code == 404
    assert requests.delete(theirs_url, headers=token("integrator", who="hotline")).status_code == 204
    assert requests.get(theirs_url, headers=token("operator")).status_code == 404


def test_subscribers_down_or_slow_hold_up_neither_the_services_nor_each_other(stack, amqp_uri, standin):
    s = stack()  # deliveries: 3 attempts, 1-2 s apart
    slow_port, slow = standin("http", "--delay", "6")
    flaky_port, flaky = standin("http", "--fail", "2", "--status", "503")
    slow_hook = subscribe(s, f"http://127.0.0.1:{slow_port}/in", ["case.assigned"]).json()
    flaky_hook = subscribe(s, f"http://127.0.0.1:{flaky_port}/in", ["case.assigned"]).json()
    down_hook = subscribe(s, "http://127.0.0.1:9/in", ["case.assigned"]).json()  # nobody listens on port 9
    publish(amqp_uri, "routing", routing_event("case.assigned", **ASSIGNED))
    # the people are told, and the flaky subscriber gets it at its third try, while the slow one still answers
    eventually(lambda: (st := statuses(s)) and len(st) == 4 and all(n["status"] == "sent" for n in st.values()))
    [flaky_got] = eventually(flaky, timeout=5)
    assert slow() == [] and json.loads(flaky_got["body"])["type"] == "case.assigned"
    # the subscriber has the body before the sender has its answer and records it
    [flaky_done] = eventually(lambda: [d for d in deliveries(s, flaky_hook) if d["status"] != "pending"])
    assert (flaky_done["status"], flaky_done["attempts"]) == ("delivered", 3)
    [failed] = eventually(lambda: [d for d in deliveries(s, down_hook) if d["status"] == "failed"])
    assert failed["attempts"] == 3 and "webhook: ConnectionError" in failed["last_error"]
    eventually(slow, timeout=10)
    [slow_done] = eventually(lambda: [d for d in deliveries(s, slow_hook) if d["status"] != "pending"])
    assert slow_done["status"] == "delivered"
    again = requests.post(f"{s['base']}/webhooks/{down_hook['id']}/deliveries/{failed['id']}/retry",
                          headers=token("integrator", who="county-platform"))
    assert again.status_code == 200 and (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
    assert requests.post(f"{s['base']}/webhooks/{down_hook['id']}/deliveries/{failed['id']}/retry",
                         headers=token("operator")).status_code == 409  # pending, not failed, now


def test_a_subscription_may_not_point_into_the_county_s_own_networks_nor_be_turned_there(
        stack, amqp_uri, standin, monkeypatch):
    s = stack()
    port, received = standin("http")
    hook = subscribe(s, f"http://127.0.0.1:{port}/in", ["case.assigned"]).json()  # allowed here, for now
    monkeypatch.delenv("FENGQIAO_WEBHOOK_PRIVATE_ADDRESSES")
    for url in (f"http://127.0.0.1:{port}/in", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                "http://10.1.2.3/", "http://localhost:8001/cases"):
        refused = subscribe(s, url, ["case.assigned"])
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "url", url
    for url in ("http://[abc", "http://example.org:99999/", "http://example.org:abc/", "http://exa mple.org/"):
        assert subscribe(s, url, ["case.assigned"]).status_code == 400, url  # never a 500
    publish(amqp_uri, "routing", routing_event("case.assigned", **ASSIGNED))
    [failed] = eventually(lambda: [d for d in deliveries(s, hook) if d["status"] == "failed"])
    assert "internal network" in failed["last_error"] and received() == []  # checked again when sending


def test_a_send_that_outlived_its_lease_records_nothing(stack):
    s = stack()
    hook = subscribe(s, "http://127.0.0.1:9/in", ["*"]).json()
    event = routing_event("case.signed", signed_by="QS-XUCS")
    with pool_of(s["db"]) as pool, pool.connection() as conn:
        conn.autocommit = True  # each step its own transaction, as for two senders
        store.add_deliveries(conn, event)
        first = store.claim_delivery(conn, hook["id"], 60)
        conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 s'")  # the lease ran out
        second = store.claim_delivery(conn, hook["id"], 60)  # another replica takes it up
        assert first["id"] == second["id"]
        assert not store.record_delivery(conn, first, "failed", 1, error="late")  # the first sender's is stale
        assert store.record_delivery(conn, second, "delivered", 1)
        assert conn.execute("SELECT status FROM webhook_deliveries").fetchone()["status"] == "delivered"
