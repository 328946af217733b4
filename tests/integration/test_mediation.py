"""Mediation on the real broker and database: a dispute assigned to a village committee opens a
file from the events alone (in either order); a file is run over HTTP — parties, sessions, the
clock paused and resumed, the agreement, its PDF, the performance check, the archive and the
monthly counts; the clocks are swept, a 5-day file overdue while a 15-day one is not."""
import io
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from pypdf import PdfReader

from fengqiao import auth, catalog, config, deadlines
from tests.support.events import contract_event
from services.mediation.service import MediationService
from tests.integration.conftest import eventually, outbox_events, pool_of, publish, web_port

MEDIATION_DIR = config.REPO_ROOT / "services" / "mediation"
CASE_ID = "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10"
NUMBER = "QS-2026-000001"


def token(*roles, who="QS-XUCS", scope="QS01"):
    s = config.settings("mediation")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, who, roles, scope)}


MEDIATOR, CLERK = token("mediator"), token("clerk", who="QS-WUXY", scope="QS")


def registered(case_id=CASE_ID, number=NUMBER, **over):
    data = {"case_id": case_id, "number": number, "channel": "visit", "location": "QS01", "township": "QS",
            "category": "neighbour_dispute", "channel_class": "civil_dispute", "subject": "院墙占道",
            "description": "邻居扩建院墙占用通道", "received_at": "2026-11-20T01:00:00+00:00",
            "registered_at": "2026-11-20T01:00:00+00:00", "anonymous": False, "collective": False,
            "petitioner_count": 1, "petitioners": [{"name": "王某某", "phone": "****8000"}], "details": {},
            "proposed_channel_class": "civil_dispute", "guided_to": None, **over}
    return contract_event("intake", "case.registered", data, subject=case_id, correlationid=f"corr-{number}")


def assigned(case_id=CASE_ID, number=NUMBER, body="QS01-MEDIATION", co_bodies=(), channel_class="civil_dispute"):
    data = {"case_id": case_id, "number": number, "township": "QS", "status": "assigned", "body": body,
            "body_name": "柳湾村人民调解委员会", "body_level": "village", "tier": "village", "co_bodies": list(co_bodies),
            "rule": "small-matter-in-the-village", "reason": "小事不出村", "assigned_by": "rules",
            "channel_class": channel_class, "category": "neighbour_dispute"}
    return contract_event("routing", "case.assigned", data, subject=case_id, correlationid=f"corr-{number}")


@pytest.fixture
def service_class(isolated):
    return isolated(MediationService)


@pytest.fixture
def mediation(run_service, fresh_database, service_class):
    url = fresh_database(MEDIATION_DIR)
    container = run_service(service_class, url, DEADLINE_SWEEP_SECONDS=0.2)
    return f"http://127.0.0.1:{web_port(container)}", url


def file_of(base, case=NUMBER):
    return eventually(lambda: (r := requests.get(f"{base}/files?case={case}", headers=CLERK)).ok and r.json()
                      and r.json()[0])


def post(base, path, body=None, headers=MEDIATOR):
    return requests.post(f"{base}/files/{path}", json=body, headers=headers)


def test_a_dispute_assigned_to_a_village_committee_opens_a_file_with_its_clock(mediation, amqp_uri):
    base, url = mediation
    publish(amqp_uri, "intake", registered())
    time.sleep(0.3)
    publish(amqp_uri, "routing", assigned())
    file = file_of(base)
    assert (file["number"], file["body"], file["kind"], file["complexity"]) == (f"{NUMBER}-M1", "QS01-MEDIATION",
                                                                              "people", "ordinary")
    assert file["parties"] == [{"name": "王某某", "role": "applicant"}] and file["mediators"] == ["QS-XUCS"]
    assert [d["policy"] for d in file["deadlines"]] == ["mediation_ordinary"]
    [opened] = outbox_events(url)
    assert opened["type"] == "mediation.opened" and opened["correlationid"] == f"corr-{NUMBER}"
    assert catalog.data_errors(catalog.load(), opened) == []
    again = assigned()
    publish(amqp_uri, "routing", again)
    publish(amqp_uri, "routing", again)  # the same event delivered twice
    time.sleep(0.5)
    assert len(requests.get(f"{base}/files?case={NUMBER}", headers=CLERK).json()) == 1


def test_an_assignment_that_overtakes_the_registration_still_opens_the_whole_file(mediation, amqp_uri):
    base, _ = mediation
    publish(amqp_uri, "routing", assigned())
    assert file_of(base)["parties"] == []
    publish(amqp_uri, "intake", registered())
    filled = eventually(lambda: (f := file_of(base))["parties"] and f)
    assert filled["parties"] == [{"name": "王某某", "role": "applicant"}] and filled["subject"] == "院墙占道"


def test_what_is_not_a_civil_dispute_at_a_mediating_body_opens_nothing(mediation, amqp_uri):
    base, url = mediation
    publish(amqp_uri, "routing", assigned(body="QS-PETITION"))
    publish(amqp_uri, "routing", assigned(case_id="1b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a11", number="QS-2026-000002",
                                          channel_class="administrative"))
    time.sleep(1)
    assert requests.get(f"{base}/files", headers=CLERK).json() == [] and outbox_events(url) == []


def test_a_file_from_opening_to_a_kept_agreement(mediation, amqp_uri):
    base, url = mediation
    publish(amqp_uri, "intake", registered())
    publish(amqp_uri, "routing", assigned())
    n = file_of(base)["number"]
    assert post(base, f"{n}/parties", {"name": "李某某", "role": "respondent"}).status_code == 200
    scheduled = post(base, f"{n}/sessions", {"at": "2026-12-03T09:30:00+08:00", "place": "柳湾村调解室"})
    assert scheduled.status_code == 201, scheduled.text
    [session] = scheduled.json()["sessions"]
    held = post(base, f"{n}/sessions/{session['id']}/held", {"attendance": ["王某某", "李某某"], "minutes": "双方陈述"})
    assert held.json()["sessions"][0]["status"] == "held"

    due_before = datetime.fromisoformat(held.json()["deadlines"][0]["due_at"])
    paused = post(base, f"{n}/pause", {"reason": "appraisal", "note": "测绘鉴定"}).json()
    assert paused["status"] == "paused" and paused["deadlines"][0]["paused"]
    time.sleep(1.2)
    resumed = post(base, f"{n}/resume").json()
    pause = resumed["pauses"][0]
    due_after = datetime.fromisoformat(resumed["deadlines"][0]["due_at"])
    assert due_after - due_before == (datetime.fromisoformat(pause["resumed_at"])
                                      - datetime.fromisoformat(pause["paused_at"]))  # exactly the time paused

    due = date.today() + timedelta(days=20)
    terms = [{"party": "李某某", "obligation": "拆除占用通道部分的院墙", "due": due.isoformat()}]
    concluded = post(base, f"{n}/conclude", {"outcome": "agreement", "facts": "李某某扩建院墙占用共用通道。",
                                             "terms": terms, "judicial_confirmation": True})
    assert concluded.status_code == 200, concluded.text
    assert [d["policy"] for d in concluded.json()["deadlines"]] == ["agreement_performance"]  # the 5 days stopped

    pdf = requests.get(f"{base}/files/{n}/agreement.pdf", headers=CLERK)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).replace("\n", "")
    assert "人民调解协议书" in text and "被申请人：李某某" in text
    assert f"李某某于{due.year}年{due.month}月{due.day}日前拆除占用通道部分的院墙" in text
    assert "调解员（签名）：徐长顺" in text

    checked = post(base, f"{n}/performance", {"kept": True, "note": "院墙已拆除"}).json()
    assert checked["performance"]["kept"] is True and checked["deadlines"] == []
    archive = requests.get(f"{base}/files/{n}/archive", headers=CLERK).json()
    assert archive["case"]["subject"] == "院墙占道" and archive["file"]["outcome"]["outcome"] == "agreement"
    assert {d["policy"] for d in archive["deadlines"]} == {"mediation_ordinary", "agreement_performance"}
    assert all(d["stopped_at"] for d in archive["deadlines"])

    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the county's month
    [count] = requests.get(f"{base}/mediators/monthly?month={month}", headers=CLERK).json()
    assert (count["mediator"], count["name"], count["concluded"], count["success_rate"]) == ("QS-XUCS", "徐长顺", 1, 1.0)

    events = outbox_events(url)
    assert [e["type"] for e in events] == [
        "mediation.opened", "mediation.party_added", "mediation.session_scheduled", "mediation.session_held",
        "mediation.paused", "mediation.resumed", "mediation.concluded", "mediation.performance_checked"]
    documented = catalog.load()
    assert all(catalog.data_errors(documented, e) == [] for e in events)
    assert {e["subject"] for e in events} == {CASE_ID}


def test_refused_commands_say_why_and_change_nothing(mediation, amqp_uri):
    base, url = mediation
    publish(amqp_uri, "routing", assigned())
    n = file_of(base)["number"]
    no_session = post(base, f"{n}/conclude", {"outcome": "no_agreement", "guided_to": "litigation"})
    assert no_session.status_code == 409 and "no session was held" in no_session.json()["detail"]
    bad = post(base, f"{n}/conclude", {"outcome": "agreement", "terms": [{"party": "", "due": "soon"}]})
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} >= {"facts", "terms.0.party", "terms.0.due", "terms.0.obligation"}
    assert post(base, f"{n}/resume").status_code == 409
    assert post(base, f"{n}/pause", {"reason": "appraisal", "note": "鉴定"}, CLERK).status_code == 403
    assert post(base, "QS-2026-999999-M1/resume").status_code == 404
    assert post(base, f"{n}/sessions/not-a-session/held", {"attendance": ["王某某"], "minutes": "笔录"}).status_code == 404
    assert requests.get(f"{base}/files/{n}/agreement.pdf", headers=CLERK).status_code == 409
    township_mediator = token("mediator", who="QS-SFS-01", scope="QS")  # the case's village is not known here yet
    opened_again = requests.post(f"{base}/files", json={"case": NUMBER, "body": "QS-JUDICIAL"}, headers=township_mediator)
    assert opened_again.status_code == 409 and f"{n} is in progress" in opened_again.json()["detail"]
    assert [e["type"] for e in outbox_events(url)] == ["mediation.opened"]


def test_opening_by_hand_and_the_clocks_a_5_day_file_overdue_a_15_day_one_not(mediation, amqp_uri):
    base, url = mediation
    other_id, other = "1b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a11", "QS-2026-000002"
    publish(amqp_uri, "intake", registered())
    publish(amqp_uri, "intake", registered(case_id=other_id, number=other, channel_class="administrative"))
    publish(amqp_uri, "routing", assigned())
    ordinary = file_of(base)["number"]
    unknown = requests.post(f"{base}/files", json={"case": "QS-2026-777777", "body": "QS-JUDICIAL"}, headers=MEDIATOR)
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "case"
    eventually(lambda: requests.post(f"{base}/files", json={"case": other, "body": "QS-LAND"},
                                     headers=MEDIATOR).status_code == 400)  # the land office does not mediate itself
    opened = requests.post(f"{base}/files", headers=MEDIATOR, json={
        "case": other, "body": "QS-JUDICIAL", "kind": "administrative", "complexity": "complex",
        "parties": [{"name": "张某", "role": "applicant"}, {"name": "镇自然资源所", "role": "respondent"}]})
    assert opened.status_code == 201, opened.text
    complex_ = opened.json()
    assert complex_["mediators"] == ["QS-SONGGL", "QS-TANGDS"] and complex_["deadlines"][0]["policy"] == "mediation_complex"

    with pool_of(url) as pool, pool.connection() as conn:  # time passes for both: the 5 days and an hour
        conn.execute("UPDATE deadlines SET started_at = started_at - s.shift, due_at = due_at - s.shift,"
                     " next_alert_at = now() FROM (SELECT due_at - now() + interval '1 hour' AS shift FROM deadlines"
                     " WHERE policy = 'mediation_ordinary') s")
        conn.commit()
    overdue = eventually(lambda: [e for e in outbox_events(url) if e["type"] == "deadline.overdue"])
    time.sleep(0.6)  # more sweeps: nothing more is owed
    assert [e["data"]["context"]["file_number"] for e in outbox_events(url) if e["type"] == "deadline.overdue"] == [ordinary]
    assert overdue[0]["data"]["policy"] == "mediation_ordinary" and overdue[0]["subject"] == CASE_ID
    assert catalog.data_errors(catalog.load(), overdue[0]) == []
    # the ordinary file owes its overdue notice only (a reminder is moot once it is overdue)
    assert [e for e in outbox_events(url) if e["type"] == "deadline.due_soon" and e["data"]["context"]["file_number"] == ordinary] == []


def test_a_file_found_complex_keeps_its_start_and_gets_fifteen_days(mediation, amqp_uri):
    base, _ = mediation
    publish(amqp_uri, "routing", assigned())
    file = file_of(base)
    changed = post(base, f"{file['number']}/complexity", {"complexity": "complex", "reason": "涉及宅基地确权"}).json()
    [before], [after] = file["deadlines"], changed["deadlines"]
    assert (after["policy"], after["started_at"]) == ("mediation_complex", before["started_at"])
    shipped = deadlines.load(config.settings("mediation").deadlines_file)
    fifteen_days = deadlines.due_at(shipped.policies["mediation_complex"], datetime.fromisoformat(before["started_at"]),
                                    shipped.calendar)
    assert datetime.fromisoformat(after["due_at"]) == fifteen_days > datetime.fromisoformat(before["due_at"])


def test_a_file_ends_when_its_case_goes_elsewhere_and_the_next_mediating_body_opens_its_own(mediation, amqp_uri):
    base, url = mediation
    publish(amqp_uri, "intake", registered())
    publish(amqp_uri, "routing", assigned())
    first = file_of(base)
    publish(amqp_uri, "routing", assigned(body="QS-GOVCENTER"))  # sent up: the governance center does not mediate
    ended = eventually(lambda: (f := requests.get(f"{base}/files/{first['number']}", headers=CLERK).json())
                       ["status"] == "concluded" and f)
    assert ended["outcome"]["outcome"] == "transferred" and ended["deadlines"] == []
    publish(amqp_uri, "routing", assigned(body="QS-JUDICIAL"))  # re-routed to the judicial office
    second = eventually(lambda: (r := requests.get(f"{base}/files?case={NUMBER}&status=open", headers=CLERK).json())
                        and r[0])
    assert (second["number"], second["body"], second["mediators"]) == (f"{NUMBER}-M2", "QS-JUDICIAL", ["QS-SONGGL"])
    assert second["parties"] == [{"name": "王某某", "role": "applicant"}]
    publish(amqp_uri, "routing", contract_event("routing", "case.closed", {
        "case_id": CASE_ID, "number": NUMBER, "township": "QS", "status": "closed", "final": False},
        subject=CASE_ID, correlationid=f"corr-{NUMBER}"))
    eventually(lambda: requests.get(f"{base}/files?case={NUMBER}&status=open", headers=CLERK).json() == [])
    concluded = [e["data"] for e in outbox_events(url) if e["type"] == "mediation.concluded"]
    assert [(c["file_number"], c["outcome"]) for c in concluded] == [(f"{NUMBER}-M1", "transferred"),
                                                                      (f"{NUMBER}-M2", "transferred")]
