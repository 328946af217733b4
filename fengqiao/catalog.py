"""The event catalog (docs/events/catalog.yaml): which events exist, who emits them, and the
JSON Schema of their data."""
from functools import lru_cache

import yaml
from jsonschema import Draft202012Validator, FormatChecker

from fengqiao.config import REPO_ROOT

CATALOG_FILE = REPO_ROOT / "docs" / "events" / "catalog.yaml"


def load():
    return yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))["events"]


def emitters(entry):
    """The services that publish a type (deadlines: routing and mediation both)."""
    return entry["emitter"] if isinstance(entry["emitter"], list) else [entry["emitter"]]


def inlined(schema):
    """A data schema with its `$defs` put in place of their `$ref`s: self-contained, to be
    embedded in another document or compared part by part."""
    defs = schema.get("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk({**defs[ref.rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node
    return walk({k: v for k, v in schema.items() if k != "$defs"})  # walk copies: the catalog stays as it is


def data_errors(catalog, event):
    """Why an event's data does not match its catalog schema ([] when it does)."""
    entry = catalog.get(event["type"])
    if entry is None:
        return [f"{event['type']} is not in the catalog"]
    return _errors(_validator(entry["data"]), event)


def load_contract():
    """Compile the consumers' schemas now: a service without its catalog fails at start, not at
    its first message."""
    _validators()


def contract_errors(event):
    """As data_errors against the catalog in the repository, with each schema compiled once:
    what a consumer checks on every event it receives. A type the catalog does not know passes
    (a newer producer's event reaching an older consumer is no error)."""
    validator = _validators().get(event["type"])
    return [] if validator is None else _errors(validator, event)


@lru_cache(maxsize=1)
def _validators():
    # Shapes, types, enums and patterns; not formats (date-time, uuid…), whose checks cost a
    # consumer more than all the rest (a producer's tests check them). A tolerant reader: a
    # property it does not know yet is no error (a newer producer's compatible addition).
    return {name: Draft202012Validator(tolerant(entry["data"])) for name, entry in load().items()}


def tolerant(schema):
    """A schema without `additionalProperties`: what a consumer may rely on, not all a producer promises."""
    if isinstance(schema, dict):
        return {k: tolerant(v) for k, v in schema.items() if k != "additionalProperties"}
    return [tolerant(v) for v in schema] if isinstance(schema, list) else schema


def _validator(schema):
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _errors(validator, event):
    return [f"{event['type']}: {'/'.join(map(str, e.path)) or 'data'}: {e.message}"
            for e in validator.iter_errors(event["data"])]
