"""How events shape the read model: a case's facts and status after each event."""

# The status a case is in after an intake event of this type (statuses follow SPEC 1.3).
STATUS_AFTER = {
    "case.registered": "registered",
    "case.guided": "guided",  # handled at first contact: sent on to its lawful route
}


def case_id_of(event):
    data = event.get("data") or {}
    return data.get("case_id")


def case_facts(event):
    """The columns of the case row this event sets; None if it is not about a case."""
    data = event.get("data") or {}
    if not data.get("case_id") or not data.get("number"):
        return None
    return {
        "case_id": data["case_id"],
        "number": data["number"],
        "township": data.get("township"),
        "category": data.get("category"),
        "channel": data.get("channel"),
        "body": data.get("body"),
        # routing's events say the status they leave the case in; intake's imply it
        "status": data.get("status") or STATUS_AFTER.get(event["type"]),
        "at": event["time"],
    }
