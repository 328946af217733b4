"""The county as configuration: its tree (county → township → village → grid), its bodies, its
case categories and its staff, loaded from YAML and checked, with errors naming the file and the
entry. `CountyConfig` gives it to a service and loads it again, without a restart, when the
file changes (`ReloadingFile`, which other configuration files reuse)."""
import logging
import os
import threading
from functools import partial
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nameko.extensions import DependencyProvider

from fengqiao import deadlines
from fengqiao.metrics import CONFIG_RELOADS

log = logging.getLogger(__name__)

LEVELS = ("county", "township", "village")
CHANNEL_CLASSES = ("discipline", "litigation", "administrative", "civil_dispute", "petition")
# What a person may do (the JWT roles of staff; `integrator` is for machines, not people).
ROLES = ("clerk", "handler", "mediator", "leader", "supervisor", "discipline_officer", "auditor", "operator")
# A leader's posts: a township's (held by a leader scoped to that township) and the county's.
TOWNSHIP_DUTIES = (
    "party_secretary",             # 党委书记
    "township_head",               # 镇长 / 乡长 / 街道办主任
    "political_legal_member",      # 政法委员
    "governance_center_director",  # 综治中心主任
)
COUNTY_DUTIES = (
    "county_leader",                     # 县领导 (several may hold it)
    "county_political_legal_secretary",  # 县委政法委书记
)
DUTIES = TOWNSHIP_DUTIES + COUNTY_DUTIES
SHARED_DUTIES = ("county_leader",)  # every other duty has one holder per township (or county)
STAFF_KEYS = ("id", "name", "roles", "scope", "body", "phone", "email", "duties")
PHONE_CHARACTERS = set("0123456789+- ")


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


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    roles: tuple       # of ROLES
    scope: str         # a node code: the jurisdiction is that node and its subtree
    body: str | None = None   # the body they work in
    phone: str | None = None
    email: str | None = None
    duties: tuple = ()  # of DUTIES, leaders only

    def has_role(self, role):
        return role in self.roles


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
    staff: dict = field(default_factory=dict)       # id -> Staff, in file order

    def township_of(self, node_code):
        node = self.nodes[node_code]
        while node.level not in ("township", "county"):
            node = self.nodes[node.parent]
        return node if node.level == "township" else None

    def bodies_at(self, node_code):
        return [b for b in self.bodies.values() if b.node == node_code]

    # --- the tree ----------------------------------------------------------------------------

    def path_up(self, node_code):
        """The node's code, then its parent's, … up to the county's; [] for an unknown code."""
        path = []
        node = self.nodes.get(node_code)
        while node is not None:
            path.append(node.code)
            node = self.nodes.get(node.parent) if node.parent else None
        return path

    def covers(self, scope_code, node_code):
        """Is `node_code` inside the subtree of `scope_code` (the node itself included)? False
        when either code is unknown."""
        return scope_code in self.nodes and scope_code in self.path_up(node_code)

    # --- staff -------------------------------------------------------------------------------

    def person(self, staff_id):
        """The person with that id, or None."""
        return self.staff.get(staff_id)

    def staff_with(self, role, node_code, body=None):
        """People in `role` whose scope covers the node, nearest scope first (the node's own
        people, then its parent's, … then the county's), in file order within one scope;
        optionally only those working in `body`."""
        up = self.path_up(node_code)
        found = [s for s in self.staff.values()
                 if role in s.roles and s.scope in up and (body is None or s.body == body)]
        return sorted(found, key=lambda s: up.index(s.scope))  # stable: file order within a scope

    def staff_of(self, body_code, role=None):
        """People working in the body (optionally only in `role`), in file order."""
        return [s for s in self.staff.values() if s.body == body_code and (role is None or role in s.roles)]

    def mediators_of(self, body_code):
        return self.staff_of(body_code, "mediator")

    def leader_with_duty(self, duty, node_code):
        """The leader holding `duty` for the node: a township duty is looked up in the township of
        the node (a village's or grid's township), a county duty at the county (the first holder
        of `county_leader`). None when nobody holds it, or for a township duty asked of the
        county node or of an unknown node."""
        if duty not in DUTIES:
            raise ValueError(f"unknown duty {duty!r}; known: {', '.join(DUTIES)}")
        if duty in COUNTY_DUTIES:
            scope = self.code
        else:
            township = self.township_of(node_code) if node_code in self.nodes else None
            if township is None:
                return None
            scope = township.code
        return next((s for s in self.staff.values() if s.scope == scope and duty in s.duties), None)


# --- loading -----------------------------------------------------------------------------------

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path):
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CountyConfigError(f"{path}: cannot read: {exc}") from exc
    return parse(raw, str(path))


def parse(raw, where):
    def fail(entry, problem):
        raise CountyConfigError(f"{where}: {entry}: {problem}")

    def entries(value, entry, what):
        """A list of mappings (an absent one is empty)."""
        if value is None:
            return []
        if not isinstance(value, list):
            fail(entry, f"expected a list of {what}")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                fail(f"{entry}[{i}]", f"expected a mapping ({what}), got {item!r}")
        return value

    if not isinstance(raw, dict) or not isinstance(raw.get("county"), dict):
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

    for i, route in enumerate(entries(raw.get("lawful_routes"), "lawful_routes", "code, label")):
        if not route.get("code") or not route.get("label"):
            fail(f"lawful_routes[{i}]", "needs 'code' and 'label'")
        county.lawful_routes[route["code"]] = {"label": route["label"],
                                               "outside_petitions": bool(route.get("outside_petitions"))}

    for i, cat in enumerate(entries(raw.get("categories"), "categories", "code, label, channel_class")):
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
        for j, b in enumerate(entries(bodies, f"{entry}.bodies", "code, name, kind")):
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
    for i, t in enumerate(entries(raw.get("townships"), "townships", "code, name, bodies, villages")):
        entry = f"townships[{i}]"
        add_node(entry, t.get("code"), t.get("name"), "township", county.code)
        add_bodies(f"{entry} ({t['code']})", t.get("bodies"), t["code"], "township")
        for k, v in enumerate(entries(t.get("villages"), f"{entry} ({t['code']}).villages", "code, name, grids")):
            ventry = f"{entry}.villages[{k}]"
            add_node(ventry, v.get("code"), v.get("name"), "village", t["code"])
            add_bodies(f"{ventry} ({v['code']})", v.get("bodies"), v["code"], "village")
            grids = v.get("grids") or []
            if not isinstance(grids, list):
                fail(f"{ventry} ({v['code']}).grids", "expected a list of grid codes")
            for g in grids:
                add_node(f"{ventry}.grids", g, g, "grid", v["code"])
    if not any(n.level == "township" for n in county.nodes.values()):
        fail("townships", "at least one township is needed")

    for i, s in enumerate(entries(raw.get("staff"), "staff", "id, name, roles, scope")):
        _add_staff(county, s, f"staff[{i}]", fail)
    return county


def _add_staff(county, s, entry, fail):
    if not s.get("id") or not s.get("name"):
        fail(entry, "needs 'id' and 'name'")
    if not isinstance(s["id"], str):
        fail(entry, f"id must be text (quote it in YAML), got {s['id']!r}")
    entry = f"{entry} ({s['id']})"
    if s["id"] in county.staff:
        fail(entry, f"duplicate staff id {s['id']!r}")
    unknown = [k for k in s if k not in STAFF_KEYS]
    if unknown:
        fail(entry, f"unknown keys {', '.join(map(str, unknown))}; known: {', '.join(STAFF_KEYS)}")

    roles = s.get("roles")
    if not isinstance(roles, list) or not roles:
        fail(entry, f"needs 'roles', a list of: {', '.join(ROLES)}")
    bad = [str(r) for r in roles if r not in ROLES]
    if bad:
        fail(entry, f"unknown roles {', '.join(bad)}; known: {', '.join(ROLES)}")

    scope = s.get("scope")
    if not scope or not isinstance(scope, str):
        fail(entry, "needs a 'scope' (a node code of the tree)")
    if scope not in county.nodes:
        fail(entry, f"unknown scope node {scope}")

    body = s.get("body")
    if body is not None:
        if not isinstance(body, str) or body not in county.bodies:
            fail(entry, f"unknown body {body}")
        sits = county.bodies[body].node
        if not county.covers(scope, sits):
            fail(entry, f"body {body} sits at {sits}, outside the scope {scope}")

    for key in ("phone", "email"):
        if s.get(key) is not None and not isinstance(s[key], str):
            fail(entry, f"{key} must be text (quote it in YAML), got {s[key]!r}")
    if s.get("phone") is not None and (not s["phone"].strip() or set(s["phone"]) - PHONE_CHARACTERS):
        fail(entry, f"phone {s['phone']!r} may hold only digits, spaces, '+' and '-'")
    if s.get("email") is not None and "@" not in s["email"].strip("@"):
        fail(entry, f"email {s['email']!r} is not an address")

    duties = s.get("duties") or []
    if not isinstance(duties, list):
        fail(entry, f"duties must be a list of: {', '.join(DUTIES)}")
    if duties and "leader" not in roles:
        fail(entry, f"duties {', '.join(map(str, duties))} need the role leader")
    bad = [str(d) for d in duties if d not in DUTIES]
    if bad:
        fail(entry, f"unknown duties {', '.join(bad)}; known: {', '.join(DUTIES)}")
    for duty in duties:
        level = county.nodes[scope].level
        if duty in COUNTY_DUTIES and scope != county.code:
            fail(entry, f"duty {duty} needs the county scope {county.code}, not {scope} ({level})")
        if duty in TOWNSHIP_DUTIES and level != "township":
            fail(entry, f"duty {duty} needs a township scope, not {scope} ({level})")
        if duty not in SHARED_DUTIES:
            holder = next((o for o in county.staff.values() if o.scope == scope and duty in o.duties), None)
            if holder is not None:
                fail(entry, f"duty {duty} at {scope} is already held by {holder.id}")

    county.staff[s["id"]] = Staff(s["id"], s["name"], tuple(roles), scope, body,
                                  s.get("phone"), s.get("email"), tuple(duties))


# --- as a nameko dependency, reloaded when the file changes --------------------------------

class ReloadingFile(DependencyProvider):
    """A configuration file as a dependency: `loader(path)` makes the value workers get.

    Loaded when the service starts — a bad file stops the start, loudly. Afterwards, at most
    every `interval_key` seconds (service config; default 5), a worker's start looks at the
    file's modification time and size; when they changed the file is loaded again and new
    workers get the new value (a running worker keeps the one it started with). A file that
    fails to load is refused: the value in force stays, the error (naming file, entry and
    problem) is logged, and it is not tried again until the file changes again. Every reload
    counts in `fengqiao_config_reloads_total{file=label, outcome="ok"|"refused"}`.

        rules = ReloadingFile("RULES_FILE", rules.load, "rules")
    """

    def __init__(self, config_key, loader, label, interval_key="COUNTY_RELOAD_SECONDS", default_interval=5.0):
        self.config_key, self.loader, self.label = config_key, loader, label
        self.interval_key, self.default_interval = interval_key, default_interval
        self.clock = time.monotonic  # tests replace it

    def setup(self):
        if not self.container.config.get(self.config_key):
            raise LookupError(f"the service configuration names no {self.label} file ({self.config_key})")
        self.path = Path(self.container.config[self.config_key])
        self.interval = float(self.container.config.get(self.interval_key, self.default_interval))
        self._lock = threading.Lock()
        self._signature = self._stat()  # before reading: a change while loading is seen next time
        self.value = self.loader(self.path)
        self._checked_at = self.clock()
        for outcome in ("ok", "refused"):
            CONFIG_RELOADS.labels(self.label, outcome)  # both series exist from the start (increase() sees the first)

    def get_dependency(self, worker_ctx):
        return self.refresh()

    def _stat(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino  # inode: a file replaced by rename (ConfigMaps)

    def refresh(self):
        """Load the file again if it changed since it was last looked at, at most once every
        interval; returns the value in force."""
        if self.clock() - self._checked_at < self.interval or not self._lock.acquire(blocking=False):
            return self.value  # not yet, or another worker is at it
        try:
            self._checked_at = self.clock()
            signature = self._stat()
            if signature == self._signature:
                return self.value
            self._signature = signature  # a refused file is tried again only once it changes
            try:
                value = self.loader(self.path)
            except Exception as exc:  # whatever the loader raises, the service keeps running
                CONFIG_RELOADS.labels(self.label, "refused").inc()
                log.error("%s file %s changed but is refused; the one loaded before stays in force: %s",
                          self.label, self.path, exc)
                return self.value
            self.value = value
            CONFIG_RELOADS.labels(self.label, "ok").inc()
            log.info("%s file %s reloaded", self.label, self.path)
            return value
        finally:
            self._lock.release()


class DeadlinesConfig(ReloadingFile):
    """The deadlines file (DEADLINES_FILE), its calendar in the county's time zone, refused when
    it lacks a policy the service starts or extends by name."""

    def __init__(self, *required):
        super().__init__("DEADLINES_FILE", None, "deadlines")
        self.required = required

    def setup(self):
        timezone = load(self.container.config["COUNTY_FILE"]).timezone
        self.loader = partial(deadlines.load, timezone=timezone, required=self.required)
        super().setup()


class CountyConfig(ReloadingFile):
    """The county file (COUNTY_FILE): checked when the service starts, reloaded when it changes."""

    def __init__(self):
        super().__init__("COUNTY_FILE", load, "county")

    @property
    def county(self):
        return self.value
