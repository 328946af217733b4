"""The event catalog (docs/events/catalog.yaml): which events exist, who emits them, and the
JSON Schema of their data."""
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from fengqiao.config import REPO_ROOT

CATALOG_FILE = REPO_ROOT / "docs" / "events" / "catalog.yaml"


def load():
    return yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))["events"]


def data_errors(catalog, event):
    """Why an event's data does not match its catalog schema ([] when it does)."""
    entry = catalog.get(event["type"])
    if entry is None:
        return [f"{event['type']} is not in the catalog"]
    validator = Draft202012Validator(entry["data"], format_checker=FormatChecker())
    return [f"{event['type']}: {'/'.join(map(str, e.path)) or 'data'}: {e.message}"
            for e in validator.iter_errors(event["data"])]
