"""A case's handling from assignment to closure (SPEC 1.3): each verb checks what the case's
state allows and returns the facts (events) it causes; the case dict is changed in place.
Pure: no framework, no SQL. Deadlines follow from the facts (see deploy/county/deadlines.yaml).

  assigned ─sign→ signed ─accept→ in_progress ─resolve→ resolved ─follow_up→ followed_up ─close→ closed
     │  └return→ returned ─assign→ assigned    ├─not_accept→ not_accepted ─close→ closed
     └ (escalate: to a body a tier up, assigned again)   in_progress ⇄ suspended
  followed_up (unsatisfied) ─request_review→ under_review ─decide_review→ followed_up | in_progress (reopened)
"""
import uuid
from datetime import datetime, timedelta

from fengqiao import access
from fengqiao.auth import Principal
from fengqiao.facts import Fact, Forbidden, Invalid, Refused, require
from services.routing import rules as routing_rules

OUTCOMES = {  # 三到位一处理: each resolution is one of these, with its written reply
    "demand_met": "合理诉求解决到位",
    "explained": "思想教育到位",
    "relieved": "困难帮扶到位",
    "referred": "违法行为依法处理",
}
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
REVIEW_STAGES = ("review", "re_review")  # 复查, 复核
REVIEW_WINDOW_DAYS = 30
RETURNS_BEFORE_LEADER = 2  # a case returned twice goes to the governance-center leader
# A case is being handled in these statuses: it can be escalated, whistles on it run.
HANDLING = ("assigned", "signed", "in_progress", "suspended", "returned")


# What people write about a case. Of a discipline report (纪检举报) the events say only that it
# is withheld: every service and integrator reads them.
FREE_TEXT = ("reply", "note", "reason")


def fact(type, case, **data):
    if case.get("channel_class") == access.DISCIPLINE:
        data = {k: access.WITHHELD if v and (k in FREE_TEXT or (type, k) == ("case.consulted", "decision")) else v
                for k, v in data.items()}
    return Fact(type, {"case_id": str(case["id"]), "number": case["number"], "township": case["township"],
                       "status": case["status"], **data})


# --- assignment (交办) -------------------------------------------------------------------

def new_case(event_data, registered_at):
    """Routing's record of a case from `case.registered`."""
    d = event_data
    return {
        "id": d["case_id"], "number": d["number"], "township": d["township"], "location": d["location"],
        "category": d["category"], "channel_class": d["channel_class"], "subject": d["subject"],
        "description": d.get("description", ""), "petitioner_count": d["petitioner_count"],
        "registered_at": registered_at, "status": "registered", "body": None, "body_name": None, "tier": None,
        "rule": None, "reason": None, "risk": "blue", "risk_reasons": [],
        "risk_set_by": "rules", "repeat_count": 0, "overdue": False, "returns": [], "co_bodies": [],
        "leader": None, "responsible": None, "extension": None, "resolution": None, "follow_up": None,
        "reviews": [], "consultations": 0, "escalations": [], "mediation": None,
    }


def assign(case, decision, now, by="rules"):
    """Give the case to the decided lead body (and co-handling bodies)."""
    case.update(status="assigned", body=decision.lead.code, body_name=decision.lead.name, tier=decision.tier,
                co_bodies=[b.code for b in decision.co], rule=decision.rule, reason=decision.reason,
                confidential=decision.confidential, assigned_at=now)
    return [fact("case.assigned", case, body=decision.lead.code, body_name=decision.lead.name,
                 body_level=decision.lead.level, tier=decision.tier, co_bodies=case["co_bodies"],
                 rule=decision.rule, reason=decision.reason, assigned_by=by, channel_class=case["channel_class"],
                 category=case["category"])]


def reassign(case, county, body_code, reason, who, now):
    """The dispatcher (综治中心) re-routes a returned case, never below the tier it reached;
    after two returns only the township's governance-center director may."""
    require(case, "returned", doing="re-assign")
    body = county.bodies.get(body_code)
    if body is None:
        raise Invalid({"body": f"unknown body {body_code}"})
    tier = case.get("tier")
    if tier and routing_rules.TIERS.index(body.level) < routing_rules.TIERS.index(tier):
        raise Invalid({"body": f"{body_code} is a {body.level} body; the case was sent up to the {tier} tier"})
    if len(case["returns"]) >= RETURNS_BEFORE_LEADER:
        director = county.leader_with_duty("governance_center_director", case["location"])
        if director is None and "leader" not in who.roles or director is not None and who.subject != director.id:
            named = director.name if director else "a leader"
            raise Refused(f"returned {len(case['returns'])} times: the governance-center leader decides ({named})")
    decision = routing_rules.Decision("dispatcher", reason, body, (), case.get("confidential", False))
    return assign(case, decision, now, by=who.subject)


def sign(case, who, now):
    """The lead body signs for the case (签收). A case accepted before it was sent up a tier is
    handled on at once: acceptance is decided once."""
    require(case, "assigned", doing="sign")
    case.update(status="in_progress" if case.get("accepted_at") else "signed", signed_at=now)
    return [fact("case.signed", case, body=case["body"], signed_by=who.subject)]


def return_case(case, county, reason, who, now):
    """The lead body returns the case with its reason (退回): back to the dispatcher; the second
    time, to the township governance-center leader."""
    require(case, "assigned", doing="return")
    case["returns"].append({"body": case["body"], "reason": reason, "at": now.isoformat(), "by": who.subject})
    case["status"] = "returned"
    decider = None
    if len(case["returns"]) >= RETURNS_BEFORE_LEADER:
        leader = county.leader_with_duty("governance_center_director", case["location"])
        decider = leader.id if leader else None
    return [fact("case.returned", case, body=case["body"], reason=reason, returns=len(case["returns"]),
                 decided_by=decider or "dispatcher")]


# --- acceptance (受理) ---------------------------------------------------------------------

def accept(case, who, now):
    require(case, "signed", doing="accept")
    case.update(status="in_progress", accepted_at=now)
    return [fact("case.accepted", case, body=case["body"], accepted_by=who.subject)]


def not_accept(case, county, reason, lawful_route, who, now):
    """Not accepted: the reply names the lawful route the matter belongs to."""
    require(case, "signed", doing="decide not to accept")
    if case.get("accepted_at"):
        raise Refused("the case was accepted already; acceptance is decided once")
    route = county.lawful_routes.get(lawful_route)
    if route is None:
        raise Invalid({"lawful_route": f"unknown route; known: {', '.join(county.lawful_routes)}"})
    case.update(status="not_accepted", not_accepted={"reason": reason, "lawful_route": lawful_route})
    return [fact("case.not_accepted", case, reason=reason, lawful_route=lawful_route, route_label=route["label"],
                 decided_by=who.subject)]


# --- handling (办理) ------------------------------------------------------------------------

def extend(case, county, days, max_days, approver, reason, now):
    """One extension of at most `max_days`, approved by a leader with a reason; the petitioner
    is told (notify acts on case.extended)."""
    require(case, "in_progress", "suspended", doing="extend")
    person = county.person(approver)
    if person is None or not person.has_role("leader"):
        raise Invalid({"approver": f"{approver} is not a leader in the county file"})
    if max_days is None:
        raise Refused("the handling deadline cannot be extended (the deadlines file allows no extension)")
    if case["extension"] is not None:
        raise Refused("the handling deadline was extended once already; a second extension is not allowed")
    if days > max_days:
        raise Invalid({"days": f"at most {max_days} days"})
    case["extension"] = {"days": days, "approver": approver, "reason": reason, "at": now.isoformat()}
    return [fact("case.extended", case, days=days, approver=approver, reason=reason)]


def suspend(case, reason, now):
    require(case, "in_progress", doing="suspend")
    case.update(status="suspended", suspended_reason=reason)
    return [fact("case.suspended", case, reason=reason)]


def resume(case, now):
    require(case, "suspended", doing="resume")
    case["status"] = "in_progress"
    return [fact("case.resumed", case)]


def consult(case, county, convened_by, bodies, attendees, decision, now):
    """A joint consultation (联席会议 / 会商研判) on the case: who attended and what was decided."""
    require(case, "signed", "in_progress", "suspended", doing="hold a joint consultation on")
    unknown = [c for c in bodies if c not in county.bodies]
    if unknown:
        raise Invalid({"bodies": f"unknown bodies {', '.join(unknown)}"})
    case["consultations"] += 1
    return [fact("case.consulted", case, convened_by=convened_by, bodies=bodies, attendees=attendees,
                 decision=decision)]


def resolve(case, outcome, reply, who, now):
    """办结 with one of the four outcomes and the written reply; a red case needs a joint
    consultation first."""
    require(case, "in_progress", doing="resolve")
    if outcome not in OUTCOMES:
        raise Invalid({"outcome": f"one of {', '.join(OUTCOMES)}"})
    if case["risk"] == "red" and case["consultations"] == 0:
        raise Refused("a red case is resolved only after a joint consultation (联席会议)")
    case.update(status="resolved", resolution={"outcome": outcome, "reply": reply, "at": now.isoformat(),
                                               "by": who.subject})
    return [fact("case.resolved", case, body=case["body"], outcome=outcome, outcome_label=OUTCOMES[outcome],
                 reply=reply, resolved_by=who.subject)]


# --- follow-up, review, closure (回访, 复查复核, 终结) ----------------------------------------

def follow_up(case, rating, note, who, now):
    require(case, "resolved", doing="follow up")
    if rating not in RATINGS:
        raise Invalid({"rating": f"one of {', '.join(RATINGS)}"})
    case.update(status="followed_up", follow_up={"rating": rating, "note": note, "at": now.isoformat()})
    return [fact("case.followed_up", case, rating=rating, note=note, by=who.subject)]


def _replied_at(case):
    """The latest reply: the resolution's, or a review decision's if it came later (after a
    redo the case is resolved again, later than the decision that reopened it)."""
    decided = [r["decided_at"] for r in case["reviews"] if r.get("decided_at")]
    return max(datetime.fromisoformat(t) for t in [case["resolution"]["at"], *decided])


def request_review(case, reason, now):
    """An unsatisfied petitioner asks the next level up to review (复查), then to re-review
    (复核), each within 30 days of the reply."""
    require(case, "followed_up", doing="request a review of")
    if case["follow_up"]["rating"] != "unsatisfied":
        raise Refused("only an unsatisfied petitioner may request a review")
    stage_no = len(case["reviews"])
    if stage_no >= len(REVIEW_STAGES):
        raise Refused("the re-review (复核) was decided: the case is closed for good")
    if now > _replied_at(case) + timedelta(days=REVIEW_WINDOW_DAYS):
        raise Refused(f"a review must be requested within {REVIEW_WINDOW_DAYS} days of the reply")
    stage = REVIEW_STAGES[stage_no]
    decided_by = routing_rules.TIERS[min(routing_rules.TIERS.index(case["tier"]) + 1 + stage_no, 2)]
    case["reviews"].append({"stage": stage, "reason": reason, "requested_at": now.isoformat(), "level": decided_by})
    case["status"] = "under_review"
    return [fact("case.review_requested", case, stage=stage, reason=reason, decided_at_level=decided_by)]


def decide_review(case, decision, reply, who, now):
    """upheld: the reply stands; redo: the case is reopened for handling. A re-review decision
    closes the case for good (终结) unless it is redone."""
    require(case, "under_review", doing="decide a review of")
    if decision not in ("upheld", "redo"):
        raise Invalid({"decision": "one of upheld, redo"})
    review = case["reviews"][-1]
    review.update(decided_at=now.isoformat(), decision=decision, reply=reply, by=who.subject)
    facts = [fact("case.review_decided", case, stage=review["stage"], decision=decision, reply=reply)]
    if decision == "redo":
        case.update(status="in_progress", resolution=None, follow_up=None, extension=None)  # handled anew
        return facts + [fact("case.reopened", case, reason=f"{review['stage']} decided to redo: {reply}")]
    case["status"] = "followed_up"
    if review["stage"] == "re_review":
        return facts + close(case, now, final=True)
    return facts


def close(case, now, final=False):
    """Closed: a satisfied follow-up, a not-accepted case, or an unsatisfied one whose review
    window passed; after the re-review, for good (终结)."""
    require(case, "followed_up", "not_accepted", doing="close")
    if case["status"] == "followed_up" and not final and case["follow_up"]["rating"] == "unsatisfied":
        window_ends = _replied_at(case) + timedelta(days=REVIEW_WINDOW_DAYS)
        if now <= window_ends and len(case["reviews"]) < len(REVIEW_STAGES):
            raise Refused(f"the petitioner may still request a review until {window_ends.date()}")
    case.update(status="closed", closed_at=now)
    return [fact("case.closed", case, final=final or bool(case["reviews"]))]


# --- risk (会研预警) and escalation (上报) -----------------------------------------------------

def reassess_risk(case, county, rules, now, by="rules", level=None, reason=None):
    """Re-evaluate the colour from the rules, which only ever raise it, or set it as staff with
    a reason (up or down); responsibility follows the colour."""
    if case["status"] in ("closed", "not_accepted"):
        if by == "rules":
            return []
        raise Refused(f"the case is {case['status']}; its risk no longer changes")
    if by == "rules":
        facts = routing_rules.facts_of(county, {**case, "age_days": (now - case["registered_at"]).days})
        new, reasons = routing_rules.assess_risk(rules, facts)
        if routing_rules.higher(new, case["risk"]) == case["risk"]:
            return []
    else:
        new, reasons = level, [f"set by {by}: {reason}"]
        if new == case["risk"]:
            raise Refused(f"the risk is {new} already")
    old = case["risk"]
    case.update(risk=new, risk_reasons=reasons, risk_set_by="rules" if by == "rules" else "staff")
    responsible = _responsibility(case, county)
    return [fact("case.risk_changed", case, **{"from": old, "to": new}, reasons=reasons, changed_by=by,
                 responsible=responsible, county_told=new == "red")]


def repeat_petition(case, county, rules, repeat_count, petitioners, now):
    """A repeat petition was linked (重复信访): the count rises, and a visit by more people than
    the case had counts them; the risk is re-evaluated on both."""
    case["repeat_count"] = max(case["repeat_count"], repeat_count)
    case["petitioner_count"] = max(case["petitioner_count"], petitioners)
    return reassess_risk(case, county, rules, now)


def _responsibility(case, county):
    """yellow: a leader takes the case; red: a leader owns it (包案), the township's political-
    legal member and governance center are named and the county is told."""
    if case["risk"] == "blue":
        case.update(leader=None, responsible=None)  # back to the owning body alone
        return None
    duty = "township_head" if case["risk"] == "yellow" else "party_secretary"
    leader = county.leader_with_duty(duty, case["location"])
    case["leader"] = {"id": leader.id, "name": leader.name, "duty": duty} if leader else None
    responsible = {"leader": case["leader"]}
    if case["risk"] == "red":
        member = county.leader_with_duty("political_legal_member", case["location"])
        center = next((b for b in county.bodies_at(case["township"]) if b.kind == "governance_center"), None)
        county_leader = county.leader_with_duty("county_political_legal_secretary", case["location"])
        responsible.update(
            political_legal_member=member and {"id": member.id, "name": member.name},
            governance_center=center and center.code,
            county=county_leader and {"id": county_leader.id, "name": county_leader.name})
    case["responsible"] = responsible
    return responsible


def escalate(case, county, rules, why, now, by="rules", to=None):
    """Send the case up one tier (village → township → county) to the body the escalation rules
    name (or to `to`, a body of the next tier); it must be signed for again there (an accepted
    case is then handled on at once, and a suspended one's clock runs again). At the county
    tier there is nowhere higher."""
    require(case, *HANDLING, doing="escalate")
    if case.get("tier") is None:
        raise Refused("no body has had the case yet: the dispatcher assigns it first")
    target = (to, to.level) if to else routing_rules.escalation_target(county, rules, case["township"], case["tier"])
    if target is None:
        raise Refused(f"the case is at the {case['tier']} tier; there is no higher tier to send it to")
    body, tier = target
    from_body, from_tier = case.get("body"), case["tier"]
    case["escalations"].append({"from": from_tier, "to": tier, "why": why, "at": now.isoformat()})
    decision = routing_rules.Decision("escalation", why, body, (), case.get("confidential", False))
    assigned = assign(case, decision, now, by=by)
    return [fact("case.escalated", case, from_tier=from_tier, to_tier=tier, from_body=from_body,
                 to_body=body.code, why=why, escalated_by=by)] + assigned


# --- whistles (吹哨报到) ----------------------------------------------------------------------

def raise_whistle(case, county, body_codes, reason, who, now):
    """A body blows the whistle: the bodies named must report (报到) within the window."""
    require(case, "signed", "in_progress", "suspended", doing="raise a whistle on")
    unknown = [c for c in body_codes if c not in county.bodies]
    if unknown or not body_codes:
        raise Invalid({"bodies": f"unknown bodies {', '.join(unknown)}" if unknown else "name at least one body"})
    whistle = {"id": str(uuid.uuid4()), "case_id": case["id"], "reason": reason, "raised_by": who.subject,
               "raised_at": now.isoformat(), "reports": {c: None for c in body_codes}, "status": "open"}
    return whistle, [fact("case.whistle_raised", case, whistle_id=whistle["id"], bodies=list(body_codes),
                          reason=reason, raised_by=who.subject)]


def answer_whistle(case, county, whistle, body_code, who, now):
    """A named body reports; when all have, the whistle is answered. A body reports for itself
    (its own staff); a leader may record a report on its behalf."""
    require(case, *HANDLING, doing="report to a whistle on")
    person = county.person(who.subject)
    if not who.has_any(("leader",)) and (person is None or person.body != body_code):
        raise Forbidden(f"a body reports for itself: {who.subject} is not of {body_code}")
    if whistle["status"] != "open":
        raise Refused(f"the whistle is {whistle['status']}")
    if body_code not in whistle["reports"]:
        raise Invalid({"body": f"{body_code} was not named by this whistle"})
    if whistle["reports"][body_code] is not None:
        raise Refused(f"{body_code} reported already")
    whistle["reports"][body_code] = now.isoformat()
    waiting = [c for c, at in whistle["reports"].items() if at is None]
    facts = [fact("case.whistle_reported", case, whistle_id=whistle["id"], body=body_code, by=who.subject,
                  waiting_for=waiting)]
    if not waiting:
        whistle["status"] = "answered"
        facts.append(fact("case.whistle_answered", case, whistle_id=whistle["id"]))
    return facts


def close_whistles(case, whistles, now):
    """A case no longer in handling ends its open whistles: nobody need report any more."""
    if case["status"] in HANDLING:
        return []
    ended = [w for w in whistles if w["status"] == "open"]
    for w in ended:
        w.update(status="closed", closed_at=now.isoformat())
    return ended


# --- deadlines missed and cases no rule can place -------------------------------------------

def deadline_missed(case, county, rules, policy, due_at, now, whistle=None):
    """The first overdue notice of a deadline (SPEC 1.3): a case still in handling is marked
    overdue, its risk re-evaluated and it is sent up one tier; an unanswered whistle is marked
    escalated. At the county tier there is nowhere higher: the notice and the risk remain."""
    if case["status"] not in HANDLING:
        return []
    if whistle is not None:
        whistle["status"] = "escalated"
    case["overdue"] = True
    facts = reassess_risk(case, county, rules, now)
    try:
        facts += escalate(case, county, rules, f"deadline {policy} missed (due {due_at})", now)
    except Refused:
        pass
    return facts


def unroutable(case, why, now):
    """No rule found a body (a county file without the body a rule needs, a place unknown to
    it): the case goes to the dispatcher (综治中心), who assigns it by hand."""
    case.update(status="returned", unroutable=why)  # not a body's return: it counts toward no leader rule
    return [fact("case.returned", case, body=None, reason=why, returns=0, decided_by="dispatcher")]


# --- mediation (调解) -------------------------------------------------------------------------------

def mediation_opened(case, data, now):
    """A mediation file opened (立案) at the body that owns the case: the body signed for the case
    and accepted it (签收, 受理) — its handling is the mediation."""
    if case["status"] not in ("assigned", "signed") or data["mediating_body"] != case["body"]:
        return []
    return _take_up(case, _mediation(case, data), now)


def mediation_concluded(case, county, data, now):
    """A mediation file concluded (mediation.concluded). Only a file of the body that owns the
    case moves it: an agreement resolves it — signing for and accepting it first where the body
    had not, the mediation being its handling; a red case waits for its joint consultation —;
    a failed village mediation sends it up to the township judicial office (小事不出村, 大事不出镇);
    a failure elsewhere resolves it, the parties guided to their lawful route (诉访分离). A
    withdrawal leaves the case to its body. The case records the mediation either way."""
    if case["status"] not in HANDLING or data["mediating_body"] != case["body"]:
        return []
    case["mediation"] = {k: data.get(k) for k in ("file_number", "outcome", "guided_to", "performance_due")}
    mediation = _mediation(case, data)
    if data["outcome"] == "no_agreement" and case["tier"] == "village":
        office = next((b for b in county.bodies_at(case["township"]) if b.kind == "judicial_office"), None)
        why = f"village mediation {data['file_number']} failed; the parties were guided to {data['guided_to_label']}"
        return escalate(case, county, None, why, now, by=mediation.subject, to=office) if office else []
    if data["outcome"] == "agreement":
        terms = "；".join(f"{t['party']}于{t['due']}前{t['obligation']}" for t in data["terms"])
        return _resolve_by_mediation(case, "demand_met", f"经调解达成协议（{data['file_number']}）：{terms}。",
                                     mediation, now)
    if data["outcome"] == "no_agreement":
        return _resolve_by_mediation(case, "explained", f"经调解未达成协议（{data['file_number']}），已告知并引导当事人"
                                     f"{data['guided_to_label']}。", mediation, now)
    return []


def _mediation(case, data):
    return Principal(f"mediation {data['file_number']}", (), case["township"])


def _take_up(case, mediation, now):
    """Sign for, accept or resume the case as far as it needs, to be in progress."""
    step = {"assigned": sign, "signed": accept, "suspended": lambda c, w, n: resume(c, n)}
    facts = []
    while case["status"] in step:
        facts += step[case["status"]](case, mediation, now)
    return facts


def _resolve_by_mediation(case, outcome, reply, mediation, now):
    facts = _take_up(case, mediation, now)
    if case["status"] != "in_progress":
        return facts  # returned meanwhile: the dispatcher decides
    try:
        return facts + resolve(case, outcome, reply, mediation, now)
    except Refused:
        return facts  # a red case: its leader resolves it after the joint consultation
