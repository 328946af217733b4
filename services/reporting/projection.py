"""A case's read-model row, folded from all its events in time order (SPEC 1.9). Events reach
reporting over one queue but are handled by several workers, and a service's outbox may publish
out of order after a retry: folding the whole history each time makes the row depend only on
which events exist, never on the order they came in — and rebuilding is folding again. Pure: no
framework, no SQL."""
from datetime import datetime

from fengqiao import deadlines as dl

# The status a case is in after an intake event (routing's events say the status they leave).
STATUS_AFTER = {"case.registered": "registered", "case.guided": "guided"}
# A case in one of these is no longer being handled (the backlog, 积案).
ENDED = ("resolved", "followed_up", "under_review", "closed", "not_accepted", "guided")
# Events of one moment in the order they happen (one routing transaction stamps them alike).
RANK = {"case.registered": 0, "case.escalated": 1, "case.assigned": 2}
# Events that cannot change a case's row: kept, but no reason to fold again.
INERT = ("notification.sent", "notification.failed", "deadline.due_soon")
# Deadlines whose keeping in time the indicators count (acceptance_overdue, handling_overdue).
COUNTED = ("acceptance", "handling")


def case_id_of(event):
    return (event.get("data") or {}).get("case_id")


def new_row(case_id):
    return {"case_id": case_id, "number": None, "township": None, "village": None, "location": None, "category": None,
            "channel": None, "channel_class": None, "subject": None, "registered_at": None, "petitioner_count": None,
            "collective": False, "status": None, "body": None, "tier": None, "risk": "blue",
            "accepted_at": None, "decided_at": None, "acceptance_overdue": False, "handling_overdue": False,
            "escalated_to_county": False, "resolved_at": None, "resolution_tier": None, "outcome": None,
            "followed_up_at": None, "rating": None,
            "closed_at": None, "repeat_count": 0, "mediation_outcome": None, "mediations": [], "open": False,
            "updated_at": None}


def fold(case_id, events, policies, calendar, county):
    """(row, clocks): the case row after every event, and its deadline clocks as the deadline
    engine keeps them (policy → state). Events sort by time, those of one moment by RANK, then
    by source and id: never by the order they came in."""
    row, clocks = new_row(case_id), {}
    for event in sorted(events, key=lambda e: (_at(e["time"]), RANK.get(e["type"], 9), e["source"], e["id"])):
        _apply(row, event, county)
        _clock(clocks, policies, event)
    if row["status"] == "guided":
        clocks = {}  # handled at the window: routing never took it, no clock of its runs
    row["open"] = row["status"] is not None and row["status"] not in ENDED
    for name in COUNTED:
        row[f"{name}_overdue"] = name in clocks and _late(clocks[name], calendar)
    return row, clocks


def _late(state, calendar):
    """A clock stopped after its due moment (pauses and extensions counted), or one still running
    that routing has noticed overdue since it was last moved."""
    if state["stopped_at"] is None:
        return state["noticed_late"]
    due = dl.due_at(state["policy"], state["started_at"], calendar, state["paused_seconds"], state["extension_days"])
    return state["stopped_at"] > due


def _apply(row, event, county):
    data, kind, at = event["data"], event["type"], _at(event["time"])
    row["number"] = row["number"] or data.get("number")
    row["township"] = row["township"] or data.get("township")
    row["updated_at"] = at
    if event["source"] == "/fengqiao/routing" and data.get("status"):
        row["status"] = data["status"]
    elif kind in STATUS_AFTER and (row["status"] is None or kind == "case.guided"):
        row["status"] = STATUS_AFTER[kind]  # a clock a little behind routing's never sets a case back
    if kind == "case.registered":
        row.update(location=data["location"], village=village_of(county, data["location"]), category=data["category"],
                   channel=data["channel"], channel_class=data["channel_class"], subject=data["subject"],
                   registered_at=_at(data["registered_at"]), petitioner_count=data.get("petitioner_count"),
                   collective=data.get("collective", False))
    elif kind == "case.repeat_linked":
        row["repeat_count"] = max(row["repeat_count"], data["repeat_count"])
    elif kind == "case.assigned":
        row.update(body=data["body"], tier=data["tier"])
    elif kind == "case.escalated" and data["to_tier"] == "county":
        row["escalated_to_county"] = True  # sent up (上交), not a county body's own matter
    elif kind == "case.accepted":
        row.update(accepted_at=at, decided_at=at)
    elif kind == "case.not_accepted":
        row["decided_at"] = at
    elif kind == "case.resolved":
        row.update(resolved_at=at, outcome=data["outcome"], resolution_tier=row["tier"])
    elif kind == "case.reopened":  # handled anew: the earlier resolution no longer counts
        row.update(resolved_at=None, outcome=None, resolution_tier=None, rating=None, followed_up_at=None)
    elif kind == "case.followed_up":
        row.update(rating=data["rating"], followed_up_at=at)
    elif kind == "case.closed":
        row["closed_at"] = at
    elif kind == "case.risk_changed":
        row["risk"] = data["to"]
    elif kind == "mediation.concluded" and data["outcome"] != "transferred":
        row["mediation_outcome"] = data["outcome"]
        row["mediations"].append({"at": at.isoformat(), "body": data.get("mediating_body"), "outcome": data["outcome"]})


def _clock(clocks, policies, event):
    """The deadline engine's bookkeeping (fengqiao/deadlines.py), replayed from the events."""
    at, data = _at(event["time"]), event["data"]
    if event["type"] == "case.registered":  # routing starts the acceptance clock at registration
        at = _at(data["registered_at"])
    if event["type"] == "case.extended":
        if "handling" in clocks:
            clocks["handling"].update(extension_days=clocks["handling"]["extension_days"] + data["days"],
                                      noticed_late=False)  # a new due moment: late only if missed again
        return
    if event["type"] == "deadline.overdue" and data.get("policy") in clocks:
        state = clocks[data["policy"]]
        state["noticed_late"] = state["stopped_at"] is None or state["noticed_late"]
        return
    for action, policy in dl.actions_for(policies, event["type"]):
        state = clocks.get(policy.name)
        if action == "start" and (state is None or state["stopped_at"] is not None):
            clocks[policy.name] = {"policy": policy, "started_at": at, "paused_at": None, "paused_seconds": 0,
                                   "extension_days": 0, "stopped_at": None, "noticed_late": False}
        elif state is None or state["stopped_at"] is not None:
            continue
        elif action == "stop":
            state["stopped_at"] = at
        elif action == "pause" and state["paused_at"] is None:
            state["paused_at"] = at
        elif action == "resume" and state["paused_at"] is not None:
            state["paused_seconds"] = dl.to_timedelta(state["paused_seconds"]) + (at - state["paused_at"])
            state.update(paused_at=None, noticed_late=False)  # the due moment moved on


def running_deadlines(clocks, calendar, now):
    """The clocks still running: policy, due moment, paused or not, share of the time used."""
    found = []
    for name, state in clocks.items():
        if state["stopped_at"] is not None:
            continue
        due = dl.due_at(state["policy"], state["started_at"], calendar, state["paused_seconds"], state["extension_days"])
        full = {**state, "due_at": due}
        found.append({"policy": name, "label": state["policy"].label, "started_at": state["started_at"].isoformat(),
                      "due_at": due.isoformat(), "paused": state["paused_at"] is not None,
                      "share_used": round(max(dl.share_used(full, now), 0.0), 3)})
    return sorted(found, key=lambda d: d["due_at"])


def next_due_at(deadlines):
    """The earliest due moment of the running, unpaused clocks: overdue once it has passed."""
    dues = [datetime.fromisoformat(d["due_at"]) for d in deadlines if not d["paused"]]
    return min(dues) if dues else None


def village_of(county, location):
    """The village (村/社区) of a case's place, or None for a township-level case."""
    node = county.nodes.get(location)
    while node is not None and node.level not in ("village", "township", "county"):
        node = county.nodes.get(node.parent)
    return node.code if node is not None and node.level == "village" else None


def _at(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
