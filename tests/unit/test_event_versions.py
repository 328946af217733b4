"""Versioning (README "Versioning"): the catalog keeps every promise of the newest release, and
the rules catch what would break a consumer written against it."""
import copy

import yaml

from fengqiao import asyncapi, catalog, compat
from fengqiao.config import REPO_ROOT

RELEASED = REPO_ROOT / "docs" / "events" / "released"


def newest_release():
    path = max(RELEASED.glob("*.yaml"), key=lambda p: [int(n) for n in p.stem.split(".")])
    return path.stem, yaml.safe_load(path.read_text(encoding="utf-8"))["events"]


def test_the_catalog_keeps_the_promises_of_the_newest_release():
    version, released = newest_release()
    assert compat.breaks(released, catalog.load()) == []
    assert asyncapi.VERSION.split(".")[0] == version.split(".")[0], "a new major version ships beside the old one"
    if catalog.load() != released:  # a changed contract is a new version
        assert _newer(asyncapi.VERSION, version), "raise asyncapi.VERSION"
    else:
        assert asyncapi.VERSION == version


def _newer(a, b):
    return [int(n) for n in a.split(".")] > [int(n) for n in b.split(".")]


def changed(edit):
    events = copy.deepcopy(catalog.load())
    edit(events)
    return compat.breaks(catalog.load(), events)


def test_additions_are_compatible():
    def add(events):
        events["case.noted"] = {**events["case.closed"]}
        events["case.closed"]["data"]["properties"]["remark"] = {"type": "string"}
        events["case.closed"]["emitter"] = ["routing", "mediation"]
    assert changed(add) == []


def test_what_a_consumer_relies_on_may_not_change():
    def remove_type(events):
        del events["case.closed"]

    def drop_required(events):
        events["case.closed"]["data"]["required"].remove("number")

    def retype(events):
        events["case.assigned"]["data"]["properties"]["co_bodies"]["type"] = "string"

    def widen_enum(events):
        events["case.registered"]["data"]["properties"]["channel"]["enum"].append("carrier_pigeon")

    def unmask(events):  # through the inlined $defs: the masked pattern's type widened
        events["case.registered"]["data"]["$defs"]["masked"]["type"] = ["string", "null", "integer"]

    def move(events):
        events["mediation.opened"]["emitter"] = "routing"

    def require(events):
        events["case.closed"]["data"]["properties"]["remark"] = {"type": "string"}
        events["case.closed"]["data"]["required"].append("remark")

    def loosen(events):
        del events["case.registered"]["data"]["$defs"]["masked"]["pattern"]
        del events["case.registered"]["data"]["properties"]["channel"]["enum"]

    assert changed(remove_type) == ["case.closed: removed (ship case.closed beside its successor until the next major version)"]
    assert changed(drop_required) == ["case.closed: data.number is no longer always there"]
    assert changed(retype) == ["case.assigned: data.co_bodies may now be ['string']"]
    assert changed(widen_enum) == ["case.registered: data.channel takes new values ['carrier_pigeon']"]
    assert any("petitioners[].phone may now be ['integer']" in b for b in changed(unmask))
    assert changed(move) == ["mediation.opened: no longer emitted by ['mediation']"]
    assert changed(require) == ["case.closed: data.remark is newly required (add it as optional)"]
    loosened = changed(loosen)
    assert "case.registered: data.channel takes new values ['anything']" in loosened
    assert "case.registered: data.petitioners[].phone changed its pattern" in loosened
