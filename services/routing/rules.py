"""Routing rules (分流交办) and risk rules (会研预警) as ordered configuration: which body leads a
case and why, which colour its risk is and why, and where it goes when sent up a tier. Pure:
no framework, no SQL. See deploy/county/rules.yaml for the format."""
from dataclasses import dataclass
from pathlib import Path

import yaml

RISK_LEVELS = ("blue", "yellow", "red")  # low, medium, high
TIERS = ("village", "township", "county")
LIST_CONDITIONS = ("channel_class", "category", "place_level", "risk")
NUMBER_CONDITIONS = ("min_petitioners", "max_petitioners", "min_repeats", "min_age_days")
ROUTING_CONDITIONS = {*LIST_CONDITIONS, "min_petitioners", "max_petitioners", "text_any"}
RISK_CONDITIONS = {*ROUTING_CONDITIONS, "min_repeats", "min_age_days", "overdue"}


class RulesError(ValueError):
    pass


class NoRoute(LookupError):
    """No rule finds a body for the case (or its place is unknown): the dispatcher decides."""


@dataclass(frozen=True)
class Selector:
    kind: str | None = None
    handles_category: bool = False
    level: str | None = None

    def describe(self):
        parts = [self.kind or "any body"]
        if self.handles_category:
            parts.append("listing the category")
        if self.level:
            parts.append(f"at {self.level} level")
        return " ".join(parts)


@dataclass(frozen=True)
class RoutingRule:
    name: str
    why: str
    when: dict
    lead: Selector
    co: tuple = ()
    confidential: bool = False


@dataclass(frozen=True)
class RiskRule:
    name: str
    level: str
    why: str
    when: dict


@dataclass(frozen=True)
class Rules:
    routing: tuple
    risk: tuple
    escalation: dict  # tier -> tuple of Selector


# --- loading -------------------------------------------------------------------------------

def load(path):
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path.name}: cannot read: {exc}") from exc
    return parse(raw, path.name)


def parse(raw, where):
    def fail(entry, problem):
        raise RulesError(f"{where}: {entry}: {problem}")

    if not isinstance(raw, dict):
        fail("file", "expected a mapping with routing, risk and escalation")
    routing = tuple(_routing_rule(r, f"routing[{i}]", fail) for i, r in enumerate(raw.get("routing") or []))
    if not routing:
        fail("routing", "at least one rule is needed")
    names = [r.name for r in routing]
    for name in {n for n in names if names.count(n) > 1}:
        fail("routing", f"duplicate rule name {name!r}")
    risk = tuple(_risk_rule(r, f"risk[{i}]", fail) for i, r in enumerate(raw.get("risk") or []))
    escalation = {}
    for tier, selectors in (raw.get("escalation") or {}).items():
        if tier not in TIERS[1:]:
            fail(f"escalation.{tier}", f"tier must be one of {', '.join(TIERS[1:])}")
        escalation[tier] = tuple(_selector(s, f"escalation.{tier}[{j}]", fail) for j, s in enumerate(selectors or []))
    return Rules(routing, risk, escalation)


def _routing_rule(r, entry, fail):
    if not isinstance(r, dict) or not r.get("name"):
        fail(entry, "needs a 'name'")
    entry = f"{entry} ({r['name']})"
    unknown = set(r) - {"name", "why", "when", "lead", "co", "confidential"}
    if unknown:
        fail(entry, f"unknown keys {', '.join(sorted(unknown))}")
    if "lead" not in r:
        fail(entry, "needs a 'lead' body selector")
    return RoutingRule(r["name"], r.get("why") or r["name"], _conditions(r.get("when"), ROUTING_CONDITIONS, entry, fail),
                       _selector(r["lead"], f"{entry}.lead", fail),
                       tuple(_selector(s, f"{entry}.co[{j}]", fail) for j, s in enumerate(r.get("co") or [])),
                       bool(r.get("confidential")))


def _risk_rule(r, entry, fail):
    if not isinstance(r, dict) or not r.get("name"):
        fail(entry, "needs a 'name'")
    entry = f"{entry} ({r['name']})"
    if r.get("level") not in RISK_LEVELS:
        fail(entry, f"level must be one of {', '.join(RISK_LEVELS)}")
    return RiskRule(r["name"], r["level"], r.get("why") or r["name"],
                    _conditions(r.get("when"), RISK_CONDITIONS, entry, fail))


def _conditions(when, allowed, entry, fail):
    when = when or {}
    if not isinstance(when, dict):
        fail(f"{entry}.when", "expected a mapping of conditions")
    unknown = set(when) - allowed
    if unknown:
        fail(f"{entry}.when", f"unknown conditions {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}")
    for key in (*LIST_CONDITIONS, "text_any"):
        if key in when and (not isinstance(when[key], list) or not when[key]):
            fail(f"{entry}.when.{key}", "expected a non-empty list")
    for key in NUMBER_CONDITIONS:
        if key in when and (not isinstance(when[key], int) or when[key] < 0):
            fail(f"{entry}.when.{key}", "expected a whole number ≥ 0")
    for key, values in (("risk", RISK_LEVELS), ("place_level", TIERS)):
        bad = set(when.get(key) or []) - set(values)
        if bad:
            fail(f"{entry}.when.{key}", f"unknown {', '.join(sorted(bad))}; known: {', '.join(values)}")
    return dict(when)


def _selector(s, entry, fail):
    if not isinstance(s, dict):
        fail(entry, "expected a body selector (kind, handles_category, level)")
    unknown = set(s) - {"kind", "handles_category", "level"}
    if unknown:
        fail(entry, f"unknown keys {', '.join(sorted(unknown))}")
    if not s.get("kind") and not s.get("handles_category"):
        fail(entry, "needs a 'kind' or 'handles_category: true'")
    if s.get("level") is not None and s["level"] not in TIERS:
        fail(entry, f"level must be one of {', '.join(TIERS)}")
    return Selector(s.get("kind"), bool(s.get("handles_category")), s.get("level"))


# --- matching ------------------------------------------------------------------------------

def facts_of(county, case):
    """What the rules look at, from a routing case record."""
    place = county.nodes.get(case["location"])
    if place is None:
        raise NoRoute(f"place {case['location']} of case {case.get('number')} is not in the county file")
    if place.level == "grid":
        place = county.nodes[place.parent]
    return {
        "channel_class": case["channel_class"], "category": case["category"], "place": place.code,
        "place_level": place.level, "risk": case.get("risk", "blue"),
        "petitioners": case.get("petitioner_count", 0), "text": f"{case.get('subject', '')} {case.get('description', '')}",
        "repeats": case.get("repeat_count", 0), "age_days": case.get("age_days", 0), "overdue": case.get("overdue", False),
    }


def _check(condition, wanted, facts):
    """(holds, what was seen) for one condition."""
    if condition in LIST_CONDITIONS:
        seen = facts[condition]
        return seen in wanted, f"{condition} is {seen}"
    if condition == "text_any":
        hits = [w for w in wanted if w in facts["text"]]
        return bool(hits), f"text mentions {'、'.join(hits)}" if hits else "text mentions none of the words"
    if condition == "overdue":
        return facts["overdue"] == wanted, "a deadline was missed" if facts["overdue"] else "no deadline missed"
    counted = {"petitioners": "petitioners", "repeats": "repeats", "age_days": "age_days"}
    bound, what = condition.split("_", 1)
    seen = facts[counted[what]]
    return (seen >= wanted if bound == "min" else seen <= wanted), f"{what.replace('_', ' ')} {seen}"


def conditions_met(when, facts):
    """(all hold, [{condition, holds, seen}])"""
    checks = [{"condition": f"{c} {v}", "holds": ok, "seen": seen}
              for c, v in when.items() for ok, seen in [_check(c, v, facts)]]
    return all(c["holds"] for c in checks), checks


def find_body(county, selector, place, category):
    """The nearest body to `place` (itself, then up the tree) that the selector admits."""
    node = county.nodes[place]
    while node is not None:
        for body in county.bodies_at(node.code):
            if _admits(selector, body, category):
                return body
        node = county.nodes.get(node.parent) if node.parent else None
    return None


def _admits(selector, body, category):
    return ((selector.kind is None or body.kind == selector.kind)
            and (not selector.handles_category or category in body.categories)
            and (selector.level is None or body.level == selector.level))


@dataclass(frozen=True)
class Decision:
    rule: str
    why: str
    lead: object       # county Body
    co: tuple          # county Bodies
    confidential: bool

    @property
    def tier(self):
        return self.lead.level

    @property
    def reason(self):
        return f"rule {self.rule}: {self.why}; lead {self.lead.code} ({self.lead.name})"


def explain(county, rules, case):
    """Every rule in order, whether it matched and why; and the decision (None if none)."""
    facts = facts_of(county, case)
    trail, decision = [], None
    for rule in rules.routing:
        holds, checks = conditions_met(rule.when, facts)
        step = {"rule": rule.name, "why": rule.why, "matched": holds, "conditions": checks}
        if holds and decision is None:
            lead = find_body(county, rule.lead, facts["place"], facts["category"])
            step["lead"] = lead.code if lead else None
            if lead is None:
                step["matched"] = False
                step["skipped"] = f"no {rule.lead.describe()} at or above {facts['place']}"
            else:
                co = tuple(b for s in rule.co
                           if (b := find_body(county, s, facts["place"], facts["category"])) and b.code != lead.code)
                decision = Decision(rule.name, rule.why, lead, co, rule.confidential)
        trail.append(step)
        if decision is not None:
            break
    return decision, trail


def route(county, rules, case):
    decision, _ = explain(county, rules, case)
    if decision is None:
        raise NoRoute(f"no routing rule finds a body for case {case.get('number')} at {case['location']}")
    return decision


def assess_risk(rules, facts):
    """(colour, [reasons]) from the risk rules: the highest colour any matching rule gives."""
    matched = [r for r in rules.risk if conditions_met(r.when, facts)[0]]
    if not matched:
        return "blue", []
    level = max((r.level for r in matched), key=RISK_LEVELS.index)
    return level, [f"{r.name}: {r.why}" for r in matched if r.level == level]


def higher(a, b):
    return max(a, b, key=RISK_LEVELS.index)


def escalation_target(county, rules, township, tier):
    """The body a case sent up from `tier` goes to, and the tier it lands at; None at the top."""
    if tier == "county":
        return None
    up = TIERS[TIERS.index(tier) + 1]
    start = township if up == "township" else county.code
    for selector in rules.escalation.get(up, ()):
        for body in county.bodies_at(start):
            if _admits(selector, body, None):
                return body, up
    return None
