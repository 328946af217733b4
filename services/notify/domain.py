"""What to tell whom (通知). For now: a body is told in its staff inbox that a case was
assigned to it (交办通知)."""
import uuid


def assignment_notice(assigned):
    """The staff-inbox message for a `case.assigned` event's data."""
    return {
        "id": uuid.uuid4(),
        "case_id": assigned["case_id"],
        "number": assigned["number"],
        "kind": "case_assigned",
        "channel": "inbox",
        "recipient": assigned["body"],
        "text": f"【交办】案件 {assigned['number']} 已交由{assigned['body_name']}办理，请及时签收。",
    }


def sent_event(notice):
    return {
        "notification_id": str(notice["id"]),
        "case_id": notice["case_id"],
        "number": notice["number"],
        "kind": notice["kind"],
        "channel": notice["channel"],
        "recipient": notice["recipient"],
    }
