"""Registration as one unit of work: number and store a new case, or recognise a hotline
order already registered, or link a repeat petition to the case already open."""
import uuid

from services.intake import domain, store


def seal(petitioner, vault):
    """A petitioner as stored: personal data encrypted, keyed hashes, last 4 characters."""
    id_number, phone = petitioner["id_number"], petitioner["phone"]
    return {
        "name": petitioner["name"],
        "id_number_sealed": vault.encrypt(id_number),
        "id_number_hash": vault.fingerprint("id", id_number),
        "id_number_last4": id_number and id_number[-4:],
        "phone_sealed": vault.encrypt(phone),
        "phone_hash": vault.fingerprint("phone", phone),
        "phone_last4": phone and phone[-4:],
        "address_sealed": vault.encrypt(petitioner["address"]),
    }


def register(tx, county, vault, registration, correlationid=None, idempotency_key=None):
    """Returns {id, number, outcome, collective, repeat_count}; raises domain.Rejected."""
    case = domain.new_case(county, registration)
    case["idempotency_key"] = idempotency_key
    if idempotency_key is not None:
        earlier = store.case_of_request(tx, idempotency_key)
        if earlier is not None:
            return {**earlier, "outcome": "same_request"}
    if case["channel"] == "hotline":
        earlier = store.case_of_hotline_order(tx, case["details"]["order_id"])
        if earlier is not None:
            return {**earlier, "outcome": "same_hotline_order"}
    sealed = [seal(p, vault) for p in case["petitioners"]]
    people = [h for p in sealed for h in (p["id_number_hash"], p["phone_hash"]) if h]
    if people:
        earlier = store.earlier_case_of(tx, people, case["category"], case["place"],
                                        domain.repeat_window_start(county, case["registered_at"]))
        if earlier is not None:
            return _link_repeat(tx, earlier, case)
    year = domain.number_year(county, case)
    case["number"] = domain.case_number(case["township"], year, store.next_sequence(tx, case["township"], year))
    case["correlationid"] = correlationid or str(uuid.uuid4())
    store.insert_case(tx, case, sealed)
    tx.emit("case.registered", domain.registered_event(case), subject=str(case["id"]),
            correlationid=case["correlationid"])
    return {"id": case["id"], "number": case["number"], "outcome": "registered",
            "collective": case["collective"], "repeat_count": 0}


def _link_repeat(tx, earlier, case):
    repeat = {"id": uuid.uuid4(), **{k: case[k] for k in
                                     ("channel", "subject", "received_at", "registered_at", "idempotency_key")}}
    earlier = {**earlier, "repeat_count": store.record_repeat(tx, earlier["id"], repeat)}
    tx.emit("case.repeat_linked", domain.repeat_linked_event(earlier, case), subject=str(earlier["id"]),
            correlationid=earlier["correlationid"])
    return {"id": earlier["id"], "number": earlier["number"], "outcome": "repeat_linked",
            "collective": case["collective"], "repeat_count": earlier["repeat_count"]}
