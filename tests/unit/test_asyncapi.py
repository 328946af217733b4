"""docs/events/asyncapi.yaml: generated from the catalog, in step with it, a valid AsyncAPI 3.0
document, each message's schema taking its own example."""
import json

import yaml
from jsonschema import Draft7Validator, FormatChecker

from fengqiao import asyncapi, catalog
from fengqiao.config import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "events" / "asyncapi.yaml"
SPEC = REPO_ROOT / "docs" / "events" / "schema" / "asyncapi-3.0.0.json"


def shipped():
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def test_the_shipped_document_is_what_the_catalog_makes():
    assert shipped() == asyncapi.document(), "regenerate it: python -m fengqiao.cli asyncapi"


def test_the_document_is_valid_asyncapi_3():
    errors = sorted(Draft7Validator(json.loads(SPEC.read_text())).iter_errors(shipped()), key=str)
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]] == []


def test_every_event_type_has_a_channel_per_emitter_and_its_example_fits_its_schema():
    events, doc = catalog.load(), shipped()
    for type, entry in events.items():
        for emitter in catalog.emitters(entry):
            channel = doc["channels"][f"{emitter}.{type}"]
            assert channel["address"] == type and channel["bindings"]["amqp"]["exchange"]["name"] == f"{emitter}.events"
            assert doc["operations"][f"{emitter}.send.{type}"]["action"] == "send"
        message = doc["components"]["messages"][type.replace(".", "_")]
        schema = message["payload"]["schema"]
        assert "$defs" not in json.dumps(schema)  # inlined: a "#/…" reference would point into the document
        [example] = message["examples"]
        assert list(Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(example["payload"])) == []


def test_a_message_schema_refuses_data_its_type_does_not_allow():
    schema = shipped()["components"]["messages"]["case_registered"]["payload"]["schema"]
    [example] = shipped()["components"]["messages"]["case_registered"]["examples"]
    broken = {**example["payload"], "data": {**example["payload"]["data"], "channel": "carrier pigeon"}}
    assert not Draft7Validator(schema).is_valid(broken)
    masked = example["payload"]["data"]["petitioners"][0]
    unmasked = {**example["payload"], "data": {**example["payload"]["data"],
                                                "petitioners": [{**masked, "phone": "13800138000"}]}}
    assert not Draft7Validator(schema).is_valid(unmasked)  # the inlined $defs still apply
