"""Registration as one unit of work: number and store a new case, or recognise a hotline
order already registered, or link a repeat petition to the case already open."""
import uuid
from datetime import timedelta

from services.intake import clusters, domain, reception, store


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


def fingerprints(people, vault):
    """The keyed hashes a petitioner's ID number and phone are found by."""
    return [h for p in people for h in (vault.fingerprint("id", p["id_number"]), vault.fingerprint("phone", p["phone"]))
            if h]


def repeat_of(tx, county, vault, probe, now):
    """(the people's fingerprints, the case a registration of them on this matter would be
    linked to as a repeat petition, or None): registering's own rule, read without a lock."""
    place, category, people = domain.repeat_probe(county, probe["location"], probe["category"], probe["petitioners"])
    hashes = fingerprints(people, vault)
    return hashes, store.earlier_case_of(tx, hashes, category, place, domain.repeat_window_start(county, now),
                                         lock=False)


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
    if registration.get("reception_id") is not None:  # received by a leader on reception day (领导接访)
        case["details"]["reception"] = reception.received_at_session(tx, county, registration["reception_id"], case)
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
    if case["guided_to"] is not None:
        tx.emit("case.guided", domain.guided_event(case), subject=str(case["id"]), correlationid=case["correlationid"])
    _cluster(tx, county, case)
    return {"id": case["id"], "number": case["number"], "outcome": "registered",
            "collective": case["collective"], "repeat_count": 0}


def _cluster(tx, county, case):
    """Group the case with the most alike recent case of its category and place (举一反三)."""
    window_days, threshold = clusters.policy(county)
    since = case["registered_at"] - timedelta(days=window_days)
    candidates = store.recent_cases_of_matter(tx, case["category"], case["place"], since, case["id"])
    other = clusters.closest(f"{case['subject']} {case['description']}", candidates, threshold)
    if other is None:
        return
    cluster_id, size = store.join_cluster(tx, case, other)
    tx.emit("case.clustered", {"case_id": str(case["id"]), "number": case["number"], "cluster_id": str(cluster_id),
                               "cluster_size": size, "category": case["category"], "place": case["place"],
                               "alike_case": other["number"]},
            subject=str(case["id"]), correlationid=case["correlationid"])


def _link_repeat(tx, earlier, case):
    repeat = {"id": uuid.uuid4(), **{k: case[k] for k in
                                     ("channel", "subject", "received_at", "registered_at", "idempotency_key")}}
    earlier = {**earlier, "repeat_count": store.record_repeat(tx, earlier["id"], repeat)}
    tx.emit("case.repeat_linked", domain.repeat_linked_event(earlier, case), subject=str(earlier["id"]),
            correlationid=earlier["correlationid"])
    return {"id": earlier["id"], "number": earlier["number"], "outcome": "repeat_linked",
            "collective": case["collective"], "repeat_count": earlier["repeat_count"]}
