"""The event catalog as an AsyncAPI 3.0 document (docs/events/asyncapi.yaml), for integrators'
tools: a channel per emitter and event type — the emitter's topic exchange, the type as routing key —
and one `send` operation each, the message being the whole CloudEvent with the type's `data`
schema and example. Written by `python -m fengqiao.cli asyncapi`; a test keeps it in step with
the catalog and checks it against the AsyncAPI 3.0.0 JSON Schema."""
from fengqiao import catalog
from fengqiao.events import exchange_of, source_of

VERSION = "1.0.0"  # the contract's version: see "Versioning" in the README
SCHEMA_FORMAT = "application/schema+json;version=draft-07"


def document(events=None):
    events = catalog.load() if events is None else events
    channels, operations, messages = {}, {}, {}
    for type, entry in sorted(events.items()):
        messages[_name(type)] = _message(type, entry)
        for emitter in catalog.emitters(entry):
            channel = f"{emitter}.{type}"
            channels[channel] = {
                "address": type,
                "title": f"{type} on {exchange_of(emitter)}",
                "messages": {_name(type): {"$ref": f"#/components/messages/{_name(type)}"}},
                "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0", "exchange": {
                    "name": exchange_of(emitter), "type": "topic", "durable": True, "autoDelete": False}}},
            }
            operations[f"{emitter}.send.{type}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{channel}"},
                "summary": f"{emitter} publishes {type}",
                "messages": [{"$ref": f"#/channels/{channel}/messages/{_name(type)}"}],
                "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": "0.3.0"}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Fengqiao case events",
            "version": VERSION,
            "description": "Every event the Fengqiao services publish, generated from docs/events/catalog.yaml."
                           " Bind a durable queue of your own to an emitter's exchange with the types you want.",
        },
        "defaultContentType": "application/json",
        "servers": {"county": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0-9-1",
                               "description": "the county deployment's RabbitMQ (vhost and credentials from its operators)"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _message(type, entry):
    data = catalog.tolerant(catalog.inlined(entry["data"]))  # consumers ignore what they do not know
    return {
        "name": type,
        "title": type,
        "summary": entry["description"].strip(),
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/correlationid",
                          "description": "carried unchanged from a case's first event through all it causes"},
        "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": _envelope(type, catalog.emitters(entry), data)},
        "examples": [{"name": "example", "payload": _example(type, entry)}],
        "bindings": {"amqp": {"messageType": type, "bindingVersion": "0.3.0"}},
    }


def _envelope(type, emitters, data):
    """CloudEvents 1.0, structured JSON, with the correlationid extension."""
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "correlationid", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "unique per source: a redelivery carries the same id"},
            "source": {"enum": [source_of(e) for e in emitters]},
            "type": {"const": type},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": ["string", "null"], "description": "the case id, where there is one"},
            "datacontenttype": {"const": "application/json"},
            "correlationid": {"type": "string"},
            "data": data,
        },
    }


def _example(type, entry):
    return {"specversion": "1.0", "id": "6f1c2a7e-9b0d-4e43-8a55-2f6d1c0e9b11", "source": source_of(catalog.emitters(entry)[0]),
            "type": type, "time": "2026-05-06T09:30:00+08:00", "subject": entry["example"].get("case_id"),
            "datacontenttype": "application/json", "correlationid": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10",
            "data": entry["example"]}


def _name(type):
    return type.replace(".", "_")


