"""What every domain module returns and raises: facts (the events a command causes, for the
service to emit) and the two ways a command is refused. Pure: no framework, no SQL."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    type: str
    data: dict


class Refused(Exception):
    """The state does not allow the command (HTTP 409), with the reason."""


class Invalid(Exception):
    """The command names something that does not exist or does not fit (HTTP 400, by field)."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class NotFound(LookupError):
    """The command names a part of the record that does not exist (HTTP 404)."""


class Forbidden(Exception):
    """The caller may not ask this, whatever the state (HTTP 403): places outside their scope."""


def require(record, *statuses, doing, what="case"):
    """Refused unless the record's status is one of `statuses`: 'cannot resolve a case that is …'."""
    if record["status"] not in statuses:
        raise Refused(f"cannot {doing} a {what} that is {record['status']}; it must be {' or '.join(statuses)}")
