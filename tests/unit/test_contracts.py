"""The published contracts stay true: the event catalog matches what the code emits, and the
committed OpenAPI documents match the services' routes."""
import json
import re

import pytest

from fengqiao import catalog, config
from fengqiao.dependencies import openapi_document
from fengqiao.runner import service_class
from fengqiao.web import routes_of

CATALOG = catalog.load()


def emitted_by_code():
    """(type, emitter) of every `.emit("type", ...)` in the services' code, of every
    `fact("type", ...)` a domain module returns for its service to emit, and the deadline
    notices of every service that sweeps its deadlines (`deadline_store.sweep`)."""
    found = set()
    for name in config.SERVICES:
        for path in (config.REPO_ROOT / "services" / name).glob("*.py"):
            code = path.read_text()
            found |= {(t, name) for t in re.findall(r'(?:\.emit|\bfact)\(\s*"([a-z_]+\.[a-z_]+)"', code)}
            if "deadline_store.sweep(" in code:
                found |= {("deadline.due_soon", name), ("deadline.overdue", name)}
    return found


def catalogued():
    """(type, emitter) of the catalog; an event several services emit lists them all."""
    return {(t, emitter) for t, e in CATALOG.items()
            for emitter in (e["emitter"] if isinstance(e["emitter"], list) else [e["emitter"]])}


def test_every_emitted_event_is_in_the_catalog_with_its_emitter_and_nothing_else_is():
    assert emitted_by_code() == catalogued()


@pytest.mark.parametrize("type", sorted(CATALOG))
def test_each_catalog_example_matches_its_schema(type):
    assert catalog.data_errors(CATALOG, {"type": type, "data": CATALOG[type]["example"]}) == []


def test_a_schema_catches_wrong_data():
    bad = {**CATALOG["case.assigned"]["example"], "body_level": "province"}
    del bad["reason"]
    assert len(catalog.data_errors(CATALOG, {"type": "case.assigned", "data": bad})) == 2


@pytest.mark.parametrize("name", list(config.SERVICES))
def test_committed_openapi_documents_are_current(name):
    committed = json.loads((config.REPO_ROOT / "docs" / "api" / f"{name}.openapi.json").read_text())
    assert committed == openapi_document(name, routes_of(service_class(name))), \
        "run `python -m fengqiao.cli openapi` and commit docs/api/"


def test_every_route_that_is_not_public_names_the_roles_it_admits():
    open_to_any_token = [f"{name} {r.method} {r.url}" for name in config.SERVICES
                         for _, r in routes_of(service_class(name)) if not r.public and not r.roles]
    assert open_to_any_token == []  # an integrator's token, say, would read them


def test_the_readme_defines_each_indicator_as_the_code_does():
    from services.reporting.indicators import DEFINITIONS

    readme = (config.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name, sentence in DEFINITIONS.items():
        assert f"| `{name}` | {sentence} |" in readme, name
