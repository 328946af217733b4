"""The county as configuration: its tree (county → township → village → grid), its bodies and
its case categories, loaded from YAML and checked, with errors naming the file and the entry."""
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nameko.extensions import DependencyProvider

LEVELS = ("county", "township", "village")
CHANNEL_CLASSES = ("discipline", "litigation", "administrative", "civil_dispute", "petition")


class CountyConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Body:
    code: str
    name: str
    kind: str
    level: str
    node: str  # the node of the tree it sits at
    categories: frozenset
    channel_classes: frozenset


@dataclass(frozen=True)
class Node:
    code: str
    name: str
    level: str
    parent: str | None


@dataclass
class County:
    code: str
    name: str
    timezone: str
    nodes: dict = field(default_factory=dict)       # code -> Node
    categories: dict = field(default_factory=dict)  # code -> {label, channel_class, lawful_route, legal_basis, other_routes}
    lawful_routes: dict = field(default_factory=dict)  # code -> {label, outside_petitions}
    bodies: dict = field(default_factory=dict)      # code -> Body
    policies: dict = field(default_factory=dict)    # tunable rules, e.g. repeat_window_days

    def township_of(self, node_code):
        node = self.nodes[node_code]
        while node.level not in ("township", "county"):
            node = self.nodes[node.parent]
        return node if node.level == "township" else None

    def bodies_at(self, node_code):
        return [b for b in self.bodies.values() if b.node == node_code]


def load(path):
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CountyConfigError(f"{path}: cannot read: {exc}") from exc
    return parse(raw, str(path))


def parse(raw, where):
    def fail(entry, problem):
        raise CountyConfigError(f"{where}: {entry}: {problem}")

    if not isinstance(raw, dict) or "county" not in raw:
        fail("top level", "expected a mapping with 'county', 'categories' and 'townships'")
    c = raw["county"]
    for key in ("code", "name"):
        if not c.get(key):
            fail("county", f"missing '{key}'")
    policies = raw.get("policies") or {}
    if not isinstance(policies, dict):
        fail("policies", "expected a mapping")
    county = County(code=c["code"], name=c["name"], timezone=c.get("timezone", "Asia/Shanghai"),
                    policies=policies)
    county.nodes[county.code] = Node(county.code, county.name, "county", None)

    for i, route in enumerate(raw.get("lawful_routes") or []):
        if not route.get("code") or not route.get("label"):
            fail(f"lawful_routes[{i}]", "needs 'code' and 'label'")
        county.lawful_routes[route["code"]] = {"label": route["label"],
                                               "outside_petitions": bool(route.get("outside_petitions"))}

    for i, cat in enumerate(raw.get("categories") or []):
        entry = f"categories[{i}]"
        if not cat.get("code") or not cat.get("label"):
            fail(entry, "needs 'code' and 'label'")
        entry = f"{entry} ({cat['code']})"
        if cat.get("channel_class") not in CHANNEL_CLASSES:
            fail(entry, f"channel_class must be one of {', '.join(CHANNEL_CLASSES)}")
        if cat["code"] in county.categories:
            fail(entry, f"duplicate category code {cat['code']!r}")
        routes = [cat.get("lawful_route")] + list(cat.get("other_routes") or [])
        unknown = [r for r in routes if r not in county.lawful_routes]
        if unknown:
            fail(entry, f"unknown lawful routes {', '.join(map(str, unknown))}; known: {', '.join(county.lawful_routes)}")
        county.categories[cat["code"]] = {
            "label": cat["label"], "channel_class": cat["channel_class"], "lawful_route": routes[0],
            "legal_basis": cat.get("legal_basis") or "", "other_routes": routes[1:]}
    if not county.categories:
        fail("categories", "at least one category is needed")

    def add_node(entry, code, name, level, parent):
        if not code or not name:
            fail(entry, "needs 'code' and 'name'")
        if code in county.nodes:
            fail(entry, f"duplicate node code {code!r}")
        county.nodes[code] = Node(code, name, level, parent)

    def add_bodies(entry, bodies, node_code, level):
        for j, b in enumerate(bodies or []):
            e = f"{entry}.bodies[{j}]"
            for key in ("code", "name", "kind"):
                if not b.get(key):
                    fail(e, f"missing '{key}'")
            if b["code"] in county.bodies:
                fail(e, f"duplicate body code {b['code']!r}")
            unknown = set(b.get("categories") or []) - set(county.categories)
            if unknown:
                fail(f"{e} ({b['code']})", f"unknown categories {', '.join(sorted(unknown))}")
            bad = set(b.get("channel_classes") or []) - set(CHANNEL_CLASSES)
            if bad:
                fail(f"{e} ({b['code']})", f"unknown channel classes {', '.join(sorted(bad))}")
            county.bodies[b["code"]] = Body(
                b["code"], b["name"], b["kind"], level, node_code,
                frozenset(b.get("categories") or []), frozenset(b.get("channel_classes") or []))

    add_bodies("county", raw.get("bodies"), county.code, "county")
    for i, t in enumerate(raw.get("townships") or []):
        entry = f"townships[{i}]"
        add_node(entry, t.get("code"), t.get("name"), "township", county.code)
        add_bodies(f"{entry} ({t['code']})", t.get("bodies"), t["code"], "township")
        for k, v in enumerate(t.get("villages") or []):
            ventry = f"{entry}.villages[{k}]"
            add_node(ventry, v.get("code"), v.get("name"), "village", t["code"])
            add_bodies(f"{ventry} ({v['code']})", v.get("bodies"), v["code"], "village")
            for g in v.get("grids") or []:
                add_node(f"{ventry}.grids", g, g, "grid", v["code"])
    if not any(n.level == "township" for n in county.nodes.values()):
        fail("townships", "at least one township is needed")
    return county


class CountyConfig(DependencyProvider):
    """The county file, loaded and checked once when the service starts."""

    def setup(self):
        self.county = load(self.container.config["COUNTY_FILE"])

    def get_dependency(self, worker_ctx):
        return self.county
