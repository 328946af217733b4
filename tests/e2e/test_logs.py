"""Personal data never reaches a log (SPEC 2.3): a run of every service with ID numbers and phones
in bodies, in a refused body and in a path, and not one of them in any service's log."""
import json

import requests

from fengqiao import config
from services.intake.schemas import REGISTRATION_EXAMPLE
from tests.e2e.conftest import LOG_DIR, eventually

ID_NUMBER, PHONE = "110101199003074514", "13800138000"


def test_no_log_line_holds_an_id_number_or_a_phone(stack, headers):
    logs = [LOG_DIR / f"{name}.log" for name in config.SERVICES]
    start = {log: log.stat().st_size if log.exists() else 0 for log in logs}
    stack.start(*config.SERVICES)
    intake = stack.url("intake")
    assert REGISTRATION_EXAMPLE["petitioners"][0]["id_number"] == ID_NUMBER
    assert requests.post(f"{intake}/cases", json=REGISTRATION_EXAMPLE, headers=headers).status_code == 201
    wrong = {**REGISTRATION_EXAMPLE, "petitioners": [{"name": "某", "id_number": "110101199003074515", "phone": "1380013"}]}
    assert requests.post(f"{intake}/cases", json=wrong, headers=headers).status_code == 400
    assert requests.get(f"{intake}/cases/{PHONE}", headers=headers).status_code == 404  # a phone in the path
    assert requests.get(f"{intake}/cases/{ID_NUMBER}", headers=headers).status_code == 404
    sms = eventually(stack.channels["sms"], bool)  # notify fetched the phone from intake and sent to it
    assert json.loads(sms[0]["body"])["to"] == PHONE

    written = ""
    for log in logs:
        with open(log, "rb") as f:
            f.seek(start[log])
            written += f.read().decode("utf-8", "replace")
    assert f"/cases/****{PHONE[-4:]}" in written and f"/cases/****{ID_NUMBER[-4:]}" in written  # masked, not gone
    for value in (ID_NUMBER, PHONE, "110101199003074515"):
        assert value not in written
