"""A mediation file (调解卷宗) from opening to conclusion (SPEC 1.6): each verb checks what the
file's state allows and returns the facts (events) it causes; the file dict is changed in place.
Pure: no framework, no SQL. The clock (5 or 15 days, paused for appraisal) is a deadline policy
of deploy/county/deadlines.yaml, started, paused, resumed and stopped by these facts.

  open ─pause→ paused ─resume→ open ─conclude→ concluded (agreement | no_agreement | withdrawn)
  open | paused ─(the case leaves the mediating body)→ concluded (transferred)
  agreement ─(performance date passes)→ check_performance (kept or not)
"""
import uuid
from datetime import date

from fengqiao.facts import Fact, Invalid, NotFound, Refused, require

# Which bodies mediate, and the kind of file a case assigned to them opens (调解类型).
KIND_OF_BODY = {
    "village_mediation_committee": "people",      # 人民调解 (村调委会)
    "judicial_office": "people",                  # 司法所: people's mediation, joint with other bodies
    "police_mediation": "joint",                  # 警民联调
    "traffic_mediation_committee": "industry",    # 行业性、专业性调解
    "labour_mediation_committee": "industry",
    "medical_mediation_committee": "industry",
}
KINDS = {"people": "人民调解", "joint": "联合调解", "administrative": "行政调解", "industry": "行业性调解"}
COMPLEXITY_POLICY = {"ordinary": "mediation_ordinary", "complex": "mediation_complex"}  # 5 or 15 days
PAUSE_REASONS = {"appraisal": "鉴定", "evaluation": "评估", "hearing": "评议听证"}
PARTY_ROLES = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}
OUTCOMES = ("agreement", "no_agreement", "withdrawn")  # what mediators conclude
TRANSFERRED = "transferred"  # the file ended because its case left the mediating body (移送)
PERFORMANCE_POLICY = "agreement_performance"  # asks, after the agreed date, whether it was kept


def fact(type, file, **data):
    """Every mediation event names its file and its case; `number` is the case's number, as in
    every case event, so that the case's timeline gathers them. The file's status and body are
    `file_status` and `mediating_body`, never mistaken for the case's own."""
    return Fact(type, {"file_id": str(file["id"]), "file_number": file["number"], "case_id": str(file["case_id"]),
                       "number": file["case_number"], "township": file["township"], "file_status": file["status"],
                       "mediating_body": file["body"], **data})


def _require(file, *statuses, doing):
    require(file, *statuses, doing=doing, what="file")


def _session(file, session_id):
    found = next((s for s in file["sessions"] if s["id"] == session_id), None)
    if found is None:
        raise NotFound(f"no session {session_id} in file {file['number']}")
    return found


# --- opening (立案) ---------------------------------------------------------------------------

def mediating_kind(county, body_code):
    """The kind of file a body's mediation is, or None when the body does not mediate."""
    body = county.bodies.get(body_code)
    return KIND_OF_BODY.get(body.kind) if body else None


def kind_for_assignment(county, body_code, co_bodies):
    """(kind, joint bodies) of the file a body opens — for a case assigned to it with co-handling
    bodies, or by hand with the bodies named —, or None when the body does not mediate itself:
    mediation with other bodies is joint (联合调解)."""
    kind = mediating_kind(county, body_code)
    if kind is None:
        return None
    joint = [b for b in co_bodies if b in county.bodies and b != body_code]
    if kind in ("people", "joint"):
        return ("joint", joint) if joint else ("people", [])
    return kind, []


def mediator_count(complexity):
    """A complex dispute gets two mediators, an ordinary one one."""
    return 2 if complexity == "complex" else 1


def pick_mediators(county, bodies, load, count=1):
    """The `count` mediators of the bodies with the fewest open files (`load`: id → open files),
    in the county file's order among equals."""
    candidates = [m for b in bodies for m in county.mediators_of(b)]
    return [m.id for m in sorted(candidates, key=lambda m: load.get(m.id, 0))[:count]]


def check_mediators(county, mediator_ids, bodies):
    """Each id is a mediator (in the county file) of the lead or a joint body."""
    wrong = [m for m in mediator_ids if (p := county.person(m)) is None or not p.has_role("mediator")
             or p.body not in bodies]
    if wrong:
        raise Invalid({"mediators": f"not mediators of {', '.join(bodies)}: {', '.join(wrong)}"})


def open_file(case, number, county, body_code, kind, complexity, joint_bodies, parties, mediators, by, now):
    """A new file for `case` ({id, number, township, location, subject, description}) at the
    body; `mediators` already chosen. Joint mediation is led with at least one other body."""
    body = county.bodies.get(body_code)
    errors = {}
    if body is None:
        errors["body"] = f"unknown body {body_code}"
    unknown = [b for b in joint_bodies if b not in county.bodies or b == body_code]
    if unknown:
        errors["joint_bodies"] = f"unknown bodies or the lead body itself: {', '.join(unknown)}"
    if kind == "joint" and not joint_bodies:
        errors["joint_bodies"] = "joint mediation (联合调解) names the other bodies taking part"
    if errors:
        raise Invalid(errors)
    check_mediators(county, mediators, [body_code, *joint_bodies])
    file = {
        "id": str(uuid.uuid4()), "number": number, "case_id": str(case["id"]), "case_number": case["number"],
        "township": case["township"], "location": case.get("location"), "body": body_code, "body_name": body.name,
        "kind": kind, "joint_bodies": list(joint_bodies), "complexity": complexity, "status": "open",
        "opened_at": now.isoformat(), "opened_by": by, "subject": case.get("subject"),
        "description": case.get("description"), "parties": list(parties), "mediators": list(mediators),
        "changes": [], "sessions": [], "pauses": [], "outcome": None, "performance": None,
        "correlationid": case.get("correlationid"),
    }
    return file, [fact("mediation.opened", file, body_name=body.name, kind=kind,
                       kind_label=KINDS[kind], complexity=complexity, joint_bodies=file["joint_bodies"],
                       mediators=file["mediators"], parties=file["parties"], opened_by=by)]


def applicants_of(petitioners):
    """The parties a registration names: its petitioners, as applicants (申请人)."""
    return [{"name": p["name"], "role": "applicant"} for p in petitioners if p.get("name")]


def fill_from_registration(file, case):
    """A file opened before its case's registration reached mediation takes the subject and the
    applicants from it once it does; nothing a mediator entered is overwritten."""
    file["subject"] = file["subject"] or case.get("subject")
    file["description"] = file["description"] or case.get("description")
    if not any(p["role"] == "applicant" for p in file["parties"]):
        named = {p["name"] for p in file["parties"]}
        file["parties"] = [p for p in applicants_of(case.get("petitioners") or []) if p["name"] not in named] \
            + file["parties"]
    file["location"] = file["location"] or case.get("location")


# --- people ------------------------------------------------------------------------------------

def change_mediators(file, county, mediators, reason, by, now):
    """Mediators changed with a reason."""
    _require(file, "open", "paused", doing="change the mediators of")
    check_mediators(county, mediators, [file["body"], *file["joint_bodies"]])
    old = file["mediators"]
    file["mediators"] = list(mediators)
    file["changes"].append({"what": "mediators", "from": old, "to": file["mediators"], "reason": reason,
                            "by": by, "at": now.isoformat()})
    return [fact("mediation.mediators_changed", file, mediators=file["mediators"],
                 previous=old, reason=reason, changed_by=by)]


def add_party(file, name, role, by, now):
    _require(file, "open", "paused", doing="add a party to")
    if role not in PARTY_ROLES:
        raise Invalid({"role": f"one of {', '.join(PARTY_ROLES)}"})
    if any(p["name"] == name for p in file["parties"]):
        raise Refused(f"{name} is a party already")
    file["parties"].append({"name": name, "role": role})
    return [fact("mediation.party_added", file, name=name, role=role, added_by=by)]


def change_complexity(file, complexity, reason, by, now):
    """Ordinary (5 days) or complex (15 days), changed with a reason; the clock keeps its start."""
    _require(file, "open", "paused", doing="change the complexity of")
    if complexity not in COMPLEXITY_POLICY:
        raise Invalid({"complexity": f"one of {', '.join(COMPLEXITY_POLICY)}"})
    if complexity == file["complexity"]:
        raise Refused(f"the file is {complexity} already")
    old, file["complexity"] = file["complexity"], complexity
    file["changes"].append({"what": "complexity", "from": old, "to": complexity, "reason": reason, "by": by,
                            "at": now.isoformat()})
    return [fact("mediation.complexity_changed", file, **{"from": old, "to": complexity}, reason=reason,
                 changed_by=by)]


# --- sessions (调解会) -------------------------------------------------------------------------

def schedule_session(file, at, place, mediators, parties, by, now):
    _require(file, "open", "paused", doing="schedule a session of")
    mediators = list(mediators) or list(file["mediators"])
    errors = {}
    if not set(mediators) <= set(file["mediators"]):
        errors["mediators"] = f"not mediators of this file: {', '.join(sorted(set(mediators) - set(file['mediators'])))}"
    names = {p["name"] for p in file["parties"]}
    if not set(parties) <= names:
        errors["parties"] = f"not parties to this file: {', '.join(sorted(set(parties) - names))}"
    if errors:
        raise Invalid(errors)
    session = {"id": str(uuid.uuid4()), "at": at.isoformat(), "place": place, "mediators": mediators,
               "parties": list(parties) or sorted(names), "status": "scheduled", "scheduled_by": by}
    file["sessions"].append(session)
    return session, [fact("mediation.session_scheduled", file, session_id=session["id"], at=session["at"],
                          place=place, mediators=mediators, parties=session["parties"])]


def hold_session(file, session_id, attendance, minutes, by, now):
    """The session took place: who attended, and its minutes (笔录)."""
    _require(file, "open", "paused", doing="hold a session of")
    session = _session(file, session_id)
    if session["status"] != "scheduled":
        raise Refused(f"the session is {session['status']}")
    session.update(status="held", attendance=list(attendance), minutes=minutes, held_at=now.isoformat(),
                   recorded_by=by)
    return [fact("mediation.session_held", file, session_id=session_id, attendance=session["attendance"],
                 recorded_by=by)]


def cancel_session(file, session_id, reason, by, now):
    _require(file, "open", "paused", doing="cancel a session of")
    session = _session(file, session_id)
    if session["status"] != "scheduled":
        raise Refused(f"the session is {session['status']}")
    session.update(status="cancelled", cancel_reason=reason, cancelled_at=now.isoformat())
    return [fact("mediation.session_cancelled", file, session_id=session_id, reason=reason, cancelled_by=by)]


# --- the clock ----------------------------------------------------------------------------------

def pause(file, reason, note, by, now):
    """The clock stops for an appraisal, an evaluation or a hearing (鉴定、评估、评议)."""
    _require(file, "open", doing="pause")
    if reason not in PAUSE_REASONS:
        raise Invalid({"reason": f"one of {', '.join(PAUSE_REASONS)}"})
    file["status"] = "paused"
    file["pauses"].append({"reason": reason, "note": note, "paused_at": now.isoformat(), "by": by})
    return [fact("mediation.paused", file, reason=reason, reason_label=PAUSE_REASONS[reason], note=note, paused_by=by)]


def resume(file, by, now):
    _require(file, "paused", doing="resume")
    file["status"] = "open"
    current = file["pauses"][-1]
    current["resumed_at"] = now.isoformat()
    return [fact("mediation.resumed", file, reason=current["reason"], paused_at=current["paused_at"],
                 resumed_by=by)]


# --- outcomes (调解结果) ---------------------------------------------------------------------------

def conclude(file, county, outcome, today, now, by, facts_text=None, terms=(), judicial_confirmation=False,
             guided_to=None, note=None):
    """Agreement (terms: who does what by when, none before `today`), no agreement (the parties
    are guided to a lawful route outside the petition system: court, arbitration, an
    administrative ruling…), or withdrawn. An agreement or a failure comes out of a session held
    by the file's mediators; an agreement binds two parties at least, and each term a party."""
    _require(file, "open", "paused", doing="conclude")
    if outcome not in OUTCOMES:
        raise Invalid({"outcome": f"one of {', '.join(OUTCOMES)}"})
    if outcome != "withdrawn":
        if not file["mediators"]:
            raise Refused("the file has no mediator: assign one before concluding")
        if not any(s["status"] == "held" for s in file["sessions"]):
            raise Refused("no session was held: mediation concludes in a session (or is withdrawn)")
    result = {"outcome": outcome, "note": note}
    if outcome == "agreement":
        result.update(_agreement(file, facts_text, terms, judicial_confirmation, today))
    elif outcome == "no_agreement":
        routes = {c: r["label"] for c, r in county.lawful_routes.items() if r["outside_petitions"]}
        if guided_to not in routes:
            raise Invalid({"guided_to": f"one of {', '.join(routes)}"})
        result.update(guided_to=guided_to, guided_to_label=routes[guided_to])
    return _end(file, result, now, by)


def case_left(file, why, now):
    """The case went to a body that is not this file's (sent up, re-routed, returned) or was
    resolved, refused or closed in routing: the file ends there (移送), its clock stops."""
    _require(file, "open", "paused", doing="end")
    return _end(file, {"outcome": TRANSFERRED, "note": why}, now, "routing")


def _end(file, result, now, by):
    if file["status"] == "paused":  # an appraisal cut short by the end of the mediation
        file["pauses"][-1]["ended_at"] = now.isoformat()
    file.update(status="concluded", outcome={**result, "at": now.isoformat(), "by": by}, concluded_at=now.isoformat())
    return [fact("mediation.concluded", file, **result, mediators=file["mediators"], concluded_by=by)]


def _agreement(file, facts_text, terms, judicial_confirmation, today):
    names = {p["name"] for p in file["parties"]}
    errors = {}
    if len(names) < 2:
        errors["parties"] = "an agreement binds two parties at least: add the other side first"
    if not facts_text:
        errors["facts"] = "the facts of the dispute (纠纷事实) go into the agreement"
    if not terms:
        errors["terms"] = "an agreement has at least one term"
    strangers = sorted({t["party"] for t in terms} - names)
    if strangers:
        errors["terms"] = f"not parties to this file: {', '.join(strangers)}"
    past = [t["due"].isoformat() for t in terms if t["due"] < today]
    if past:
        errors["terms"] = f"a term cannot be due before today ({today}): {', '.join(past)}"
    if errors:
        raise Invalid(errors)
    return {"facts": facts_text, "terms": [{**t, "due": t["due"].isoformat()} for t in terms],
            "judicial_confirmation": bool(judicial_confirmation),
            "performance_due": max(t["due"] for t in terms).isoformat()}


def performance_due(file):
    """The date by which every term must be performed (履行期限), or None."""
    outcome = file["outcome"] or {}
    return date.fromisoformat(outcome["performance_due"]) if outcome.get("performance_due") else None


def check_performance(file, kept, note, by, now):
    """Was the agreement kept (协议履行回访)? Asked once the performance date passed."""
    if file["status"] != "concluded" or (file["outcome"] or {}).get("outcome") != "agreement":
        raise Refused("only a concluded agreement has a performance to check")
    if file["performance"] is not None:
        raise Refused("the performance was checked already")
    file["performance"] = {"kept": bool(kept), "note": note, "by": by, "at": now.isoformat()}
    return [fact("mediation.performance_checked", file, kept=bool(kept), note=note, checked_by=by)]


# --- counts for case-based subsidies (以案补贴) ------------------------------------------------------

def monthly_counts(rows):
    """Per mediator, from rows {mediator, outcome}: concluded files, each outcome, and the
    success rate — agreements among files that were mediated to an end (withdrawn ones excluded).
    A file that ended because its case went elsewhere was not concluded by its mediators."""
    counts = {}
    for row in rows:
        if row["outcome"] == TRANSFERRED:
            continue
        c = counts.setdefault(row["mediator"], {"mediator": row["mediator"], "concluded": 0, "agreement": 0,
                                                "no_agreement": 0, "withdrawn": 0})
        c["concluded"] += 1
        c[row["outcome"]] += 1
    for c in counts.values():
        mediated = c["agreement"] + c["no_agreement"]
        c["success_rate"] = round(c["agreement"] / mediated, 3) if mediated else None
    return sorted(counts.values(), key=lambda c: (-c["concluded"], c["mediator"]))
