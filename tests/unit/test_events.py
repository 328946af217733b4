import pytest

from fengqiao.events import InvalidEvent, caused_by, exchange_of, new_event, validate


def test_a_new_event_is_a_complete_cloudevent_correlated_with_itself():
    e = new_event("intake", "case.registered", {"case_id": "c1"}, subject="c1")
    assert validate(e) is e
    assert e["specversion"] == "1.0" and e["source"] == "/fengqiao/intake"
    assert e["correlationid"] == e["id"] and e["time"].endswith("Z")


def test_a_caused_event_keeps_the_chain_correlation_and_subject():
    first = new_event("intake", "case.registered", {}, subject="c1", correlationid="call-7")
    second = caused_by(first, "routing", "case.assigned", {"body": "B"})
    third = caused_by(second, "notify", "notification.sent", {})
    assert {first["correlationid"], second["correlationid"], third["correlationid"]} == {"call-7"}
    assert third["subject"] == "c1" and third["source"] == "/fengqiao/notify"
    assert len({first["id"], second["id"], third["id"]}) == 3


@pytest.mark.parametrize("body", [[], "text", {"id": "x"}, {**new_event("a", "b", {}), "specversion": "0.3"}])
def test_what_is_not_an_event_is_refused(body):
    with pytest.raises(InvalidEvent):
        validate(body)


def test_each_service_publishes_on_its_own_exchange():
    assert exchange_of("routing") == "routing.events"
