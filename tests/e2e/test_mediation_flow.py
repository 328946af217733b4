"""A neighbour dispute through every service as processes: registered, routed to the village
mediation committee, a mediation file opened there by itself, mediated to an agreement, the case
resolved by routing, and reporting telling the whole story."""
from datetime import date, timedelta

import requests

from fengqiao import auth, config
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually, get_json


def test_a_dispute_mediated_to_an_agreement_resolves_its_case(stack, headers):
    stack.start("intake", "routing", "mediation", "notify", "reporting")
    number = requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=headers).json()["number"]
    [file] = eventually(lambda: get_json(f"{stack.url('mediation')}/files?case={number}", headers),
                        lambda files: isinstance(files, list) and len(files) == 1)
    assert file["body"] == "QS01-MEDIATION" and file["parties"] == [{"name": "王某某", "role": "applicant"}]

    s = config.settings("mediation")
    mediator = {"Authorization": "Bearer " + auth.issue(s.jwt_secret, s.jwt_audience, "QS-XUCS", ["mediator"], "QS01")}
    url = f"{stack.url('mediation')}/files/{file['number']}"
    assert requests.post(f"{url}/parties", json={"name": "李某某", "role": "respondent"}, headers=mediator).ok
    session = requests.post(f"{url}/sessions", json={"at": "2026-12-03T09:30:00+08:00", "place": "柳湾村调解室"},
                            headers=mediator).json()["sessions"][0]
    assert requests.post(f"{url}/sessions/{session['id']}/held", headers=mediator,
                         json={"attendance": ["王某某", "李某某"], "minutes": "双方陈述意见"}).ok
    concluded = requests.post(f"{url}/conclude", headers=mediator, json={
        "outcome": "agreement", "facts": "李某某扩建院墙占用两家共用通道。",
        "terms": [{"party": "李某某", "obligation": "拆除占道院墙",
                   "due": (date.today() + timedelta(days=20)).isoformat()}]})
    assert concluded.status_code == 200, concluded.text

    timeline = eventually(lambda: get_json(f"{stack.url('reporting')}/cases/{number}/timeline", headers),
                          lambda t: t.get("status") == "resolved")
    types = [e["type"] for e in timeline["events"]]
    assert {"mediation.opened", "mediation.session_held", "mediation.concluded", "case.signed", "case.accepted",
            "case.resolved"} <= set(types)
    assert types.index("mediation.concluded") < types.index("case.resolved")
    assert len({e["correlationid"] for e in timeline["events"]}) == 1
    assert requests.get(f"{url}/agreement.pdf", headers=headers).content.startswith(b"%PDF-")
