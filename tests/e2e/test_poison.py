"""Poison messages: whatever lands on a service's queue — bytes that are no JSON, JSON that is no
event, an event whose data is not what its type promises — is parked in that queue's dead-letter
queue with its error, and every service goes on with the next case."""
import json
import uuid

import requests
from kombu import Exchange

from fengqiao import config, messaging
from fengqiao.runner import service_class
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import eventually, get_json
from tests.e2e.test_case_flow import AFTER_ASSIGNMENT, types


def poisons(bound_type):
    envelope = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/fengqiao/nowhere",
                "type": bound_type, "time": "2026-12-01T08:00:00+08:00", "datacontenttype": "application/json",
                "correlationid": str(uuid.uuid4()), "data": "not the data of a " + bound_type}
    return {"no JSON": b"\xff\xfe{not json", "no event": b'{"hello": "world"}',
            "wrong data": json.dumps(envelope).encode(),
            "wrong data for its type": json.dumps({**envelope, "data": {"case_id": 42}}).encode(),
            "a type that is no string": json.dumps({**envelope, "type": [bound_type]}).encode()}


def test_malformed_messages_are_parked_with_their_error_and_nothing_stops(stack, headers):
    stack.start(*config.SERVICES)
    handlers = [(queue, bindings) for name in config.SERVICES
                for queue, bindings in messaging.handlers_of(service_class(name))]
    with messaging.connect(config.settings("intake").amqp_uri) as conn:
        producer = conn.Producer()
        for queue, bindings in handlers:
            for body in poisons(next((t for _, t in bindings if "*" not in t and "#" not in t), "case.registered")).values():
                producer.publish(body, exchange=Exchange(""), routing_key=queue, content_type="application/json",
                                 content_encoding="utf-8", delivery_mode=2)

    def parked():
        with messaging.connect(config.settings("intake").amqp_uri) as conn:
            return {queue: messaging.dead_letters(conn, queue) for queue, _ in handlers}

    every_queue = eventually(parked, lambda p: all(len(m) == 5 for m in p.values()), timeout=60)
    for queue, messages in every_queue.items():  # parked by the handler at the first delivery, with why
        assert all(m["error"] and m["attempts"] == 1 for m in messages), (queue, messages)

    r = requests.post(f"{stack.url('intake')}/cases", json=REGISTRATION_EXAMPLE, headers=headers)
    assert r.status_code == 201, r.text
    eventually(lambda: get_json(f"{stack.url('reporting')}/cases/{r.json()['number']}/timeline", headers),
               lambda t: set(AFTER_ASSIGNMENT) <= set(types(t)), timeout=20)
    assert all(len(m) == 5 for m in parked().values())  # parked once, not again and again
