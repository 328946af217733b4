"""The window's screening on the real database: the guide, class overrides, guidance to a
lawful route, and problem clusters."""
import requests

from tests.integration.test_intake_http import token
from tests.integration.test_intake_registration import VISIT, intake, outbox  # noqa: F401 (fixture)


def person(i):
    return [{"name": f"居民{i}", "phone": f"1370000{i:04d}"}]


def test_the_guide_answers_which_route_applies(intake):
    entries = requests.get(f"{intake.base}/guide", headers=token("clerk")).json()
    assert len(entries) == 17
    [wages] = requests.get(f"{intake.base}/guide?category=wage_arrears", headers=token("clerk")).json()
    assert wages["lawful_route"]["code"] == "arbitration" and wages["lawful_route"]["outside_petitions"]
    bad = requests.get(f"{intake.base}/guide?category=alchemy", headers=token("clerk"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "category"


def test_an_overridden_class_is_recorded_with_its_reason(intake):
    r = intake({**VISIT, "channel_class": "petition", "channel_class_reason": "涉及宅基地审批，按信访事项办理"})
    assert r.status_code == 201
    [event] = outbox(intake)
    assert event["data"]["channel_class"] == "petition" and event["data"]["proposed_channel_class"] == "civil_dispute"
    shown = requests.get(f"{intake.base}/cases/{r.json()['number']}", headers=token("clerk")).json()
    assert shown["channel_class_reason"] == "涉及宅基地审批，按信访事项办理"
    refused = intake({**VISIT, "channel_class": "petition"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "channel_class_reason"


def test_a_matter_guided_to_arbitration_is_registered_and_announced_as_guided(intake):
    r = intake({**VISIT, "category": "wage_arrears", "guided_to": {"route": "arbitration", "note": "已告知申请劳动仲裁"}})
    assert r.status_code == 201
    registered, guided = outbox(intake)
    assert registered["data"]["guided_to"] == "arbitration"
    assert guided["type"] == "case.guided" and guided["data"]["label"] == "申请仲裁"
    assert guided["correlationid"] == registered["correlationid"]


def test_alike_cases_of_one_category_and_place_form_a_cluster(intake):
    heating = {**VISIT, "channel": "phone", "location": "QS05", "category": "heating"}
    texts = ["河东社区3号楼冬季暖气不热，室温只有12度", "河东社区5号楼暖气不热，家里室温十几度",
             "河东社区暖气不热，老人孩子受冻，室温很低", "小区门口路灯坏了，晚上看不见路"]
    numbers = [intake({**heating, "subject": t, "description": t, "petitioners": person(i)}).json()["number"]
               for i, t in enumerate(texts)]
    elsewhere = intake({**heating, "location": "QS04", "subject": texts[0], "description": texts[0],
                        "petitioners": person(9)}).json()["number"]
    [cluster] = requests.get(f"{intake.base}/clusters?township=QS", headers=token("clerk")).json()
    assert cluster["size"] == 3 and [c["number"] for c in cluster["cases"]] == numbers[:3]
    assert elsewhere not in str(cluster) and cluster["place"] == "QS05"
    clustered = [e for e in outbox(intake) if e["type"] == "case.clustered"]
    assert [e["data"]["cluster_size"] for e in clustered] == [2, 3]
    assert requests.get(f"{intake.base}/clusters?category=land_dispute", headers=token("clerk")).json() == []
