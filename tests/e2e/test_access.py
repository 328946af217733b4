"""Jurisdiction and confidentiality across the running services (SPEC 2.2): each person sees and
acts within their scope, a case elsewhere does not exist for them, and a discipline report
(纪检举报) is seen by its officers only — not by a petition-office handler, not in reporting's
lists, not in the events integrators read."""
import requests

from fengqiao import auth, config
from fengqiao.access import WITHHELD
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually, get_json


def token(scope, *roles, who="e2e"):
    s = config.settings("intake")
    return {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, who, list(roles), scope)}


QS_CLERK, BY_CLERK = token("QS", "clerk"), token("BY", "clerk")
QS_HANDLER, BY_HANDLER = token("QS", "handler"), token("BY", "handler")
QS_DISCIPLINE = token("QS", "handler", "discipline_officer")
QS01_LEADER, BY_LEADER, COUNTY_LEADER = token("QS01", "leader"), token("BY", "leader"), token("SH", "leader")
INTEGRATOR, AUDITOR, SUPERVISOR = token("SH", "integrator"), token("SH", "auditor"), token("QS", "supervisor")
REPORT = {**REGISTRATION_EXAMPLE, "category": "cadre_misconduct", "subject": "村干部挪用补偿款",
          "description": "举报村会计挪用征地补偿款十万元", "petitioners": [{"name": "举报人甲", "phone": "13900001111"}]}


def register(stack, body, headers):
    r = requests.post(f"{stack.url('intake')}/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["number"]


def test_each_person_sees_their_jurisdiction_and_discipline_reports_stay_hidden(stack):
    stack.start("intake", "routing", "mediation", "notify", "reporting")
    dispute = register(stack, REGISTRATION_EXAMPLE, QS_CLERK)  # at QS01, a village of QS
    report = register(stack, REPORT, QS_CLERK)
    elsewhere = requests.post(f"{stack.url('intake')}/cases", json={**REGISTRATION_EXAMPLE, "location": "BY01"},
                              headers=QS_CLERK)
    assert elsewhere.status_code == 403 and "outside your jurisdiction" in elsewhere.json()["detail"]

    timeline = lambda number, who: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", who)  # noqa: E731
    eventually(lambda: timeline(report, QS_DISCIPLINE), lambda t: "case.assigned" in str(t))
    eventually(lambda: timeline(dispute, COUNTY_LEADER), lambda t: "case.accepted" in str(t))

    # another township's people: the case does not exist for them, to read or to act on
    assert requests.get(f"{stack.url('intake')}/cases/{dispute}", headers=BY_CLERK).status_code == 404
    assert requests.get(f"{stack.url('routing')}/cases/{dispute}", headers=BY_HANDLER).status_code == 404
    assert requests.post(f"{stack.url('routing')}/cases/{dispute}/sign", headers=BY_HANDLER).status_code == 404
    assert timeline(dispute, BY_LEADER) == {"status_code": 404}
    [file] = get_json(f"{stack.url('mediation')}/files?case={dispute}", QS_HANDLER)
    assert requests.get(f"{stack.url('mediation')}/files/{file['number']}", headers=BY_HANDLER).status_code == 404
    assert get_json(f"{stack.url('mediation')}/files?case={dispute}", BY_HANDLER) == []
    asked = requests.get(f"{stack.url('reporting')}/indicators", params={"township": "QS"}, headers=BY_LEADER)
    assert asked.status_code == 403
    # a role that may not do a thing: 403 even within the scope
    assert requests.post(f"{stack.url('routing')}/cases/{dispute}/extend", json={"days": 5, "reason": "x"},
                         headers=QS_HANDLER).status_code == 403
    # each role: what it reads and what it may not do
    for service, path in (("intake", f"/cases/{dispute}"), ("routing", f"/cases/{dispute}"),
                          ("mediation", f"/files/{file['number']}"), ("reporting", "/indicators")):
        assert requests.get(f"{stack.url(service)}{path}", headers=INTEGRATOR).status_code == 403  # events, not APIs
        assert requests.get(f"{stack.url(service)}{path}", headers=AUDITOR).status_code == 200
    assert requests.get(f"{stack.url('intake')}/audit", headers=AUDITOR).status_code == 200
    assert requests.get(f"{stack.url('intake')}/audit", headers=COUNTY_LEADER).status_code == 403
    assert requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=AUDITOR).status_code == 403
    risk = requests.post(f"{stack.url('routing')}/cases/{dispute}/risk", json={"level": "red", "reason": "扬言上访"},
                         headers=SUPERVISOR)
    assert risk.status_code == 200 and risk.json()["risk"] == "red"
    assert requests.post(f"{stack.url('routing')}/cases/{dispute}/risk", json={"level": "red", "reason": "扬言上访"},
                         headers=token("BY", "supervisor")).status_code == 404  # another township's supervisor

    # the discipline report: its officer sees it; a petition-office handler and a leader do not
    assert requests.get(f"{stack.url('intake')}/cases/{report}", headers=QS_DISCIPLINE).json()["subject"] == "村干部挪用补偿款"
    for who in (QS_HANDLER, COUNTY_LEADER):
        assert requests.get(f"{stack.url('intake')}/cases/{report}", headers=who).status_code == 404
        assert requests.get(f"{stack.url('routing')}/cases/{report}", headers=who).status_code == 404
        assert timeline(report, who) == {"status_code": 404}
    # reporting counts it, and names it in no list
    counted = get_json(f"{stack.url('reporting')}/indicators", QS01_LEADER)["indicators"]["registered"]["value"]
    assert counted == 2 and get_json(f"{stack.url('reporting')}/stats", QS01_LEADER)["total"] == 2
    ledger = requests.get(f"{stack.url('reporting')}/ledger.csv", headers=QS01_LEADER).content.decode("utf-8-sig")
    assert dispute in ledger and report not in ledger
    ledger = requests.get(f"{stack.url('reporting')}/ledger.csv", headers=QS_DISCIPLINE).content.decode("utf-8-sig")
    assert report in ledger and "挪用" not in ledger  # even for its officer, reporting holds no text
    # the events (what integrators read) carry no text and no petitioner of it
    events = timeline(report, QS_DISCIPLINE)["events"]
    registered = next(e for e in events if e["type"] == "case.registered")["data"]
    assert registered["subject"] == WITHHELD and registered["petitioners"] == []
    assert not any(text in str(events) for text in ("挪用", "举报人甲", "1111"))
