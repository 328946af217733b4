"""The county's indicators (SPEC 1.9), each a share of two counts the read model keeps, defined
here once in one sentence (the README and the API say the same), with their change against the
previous period and the same period a year before. Pure: counts in, figures out."""

DEFINITIONS = {
    "registered": "Cases registered in the period (guided ones included).",
    "acceptance_on_time_rate": "响应率 — cases whose acceptance was decided within its deadline (15 days), "
                               "of those decided or already past that deadline.",
    "resolution_rate": "解决率 — cases resolved, of those accepted.",
    "on_time_resolution_rate": "Cases resolved within their handling deadline (an approved extension included), "
                               "of those resolved.",
    "satisfaction_rate": "满意率 — follow-up ratings of satisfied or basically satisfied, of all ratings.",
    "repeat_petition_rate": "Cases the same petitioner came back on (a repeat petition linked), of those registered.",
    "resolved_in_village_share": "小事不出村 — cases resolved by a village body, of those resolved.",
    "resolved_in_township_share": "大事不出镇 — cases resolved by a village or township body, of those resolved.",
    "sent_to_county_share": "矛盾不上交, its breach — cases escalated to the county tier, of those registered "
                            "(a county body's own matters, such as industry mediation, are not sent up).",
    "first_petition_resolution_rate": "初信初访化解率 — cases resolved with no repeat petition, of those registered.",
    "mediation_success_rate": "Mediation files concluded in the period with an agreement, of those concluded with "
                              "an agreement or without one (withdrawn files left out).",
}
# (numerator, denominator) of each rate, as named in the counts.
RATES = {
    "acceptance_on_time_rate": ("decided_on_time", "due_for_decision"),
    "resolution_rate": ("resolved", "accepted"),
    "on_time_resolution_rate": ("resolved_on_time", "resolved"),
    "satisfaction_rate": ("satisfied", "rated"),
    "repeat_petition_rate": ("repeated", "registered"),
    "resolved_in_village_share": ("resolved_in_village", "resolved"),
    "resolved_in_township_share": ("resolved_in_village_or_township", "resolved"),
    "sent_to_county_share": ("sent_to_county", "registered"),
    "first_petition_resolution_rate": ("resolved_first_time", "registered"),
    "mediation_success_rate": ("agreements", "mediations"),
}


def _derived(counts):
    return {**counts, "resolved_in_village_or_township": counts["resolved_in_village"] + counts["resolved_in_township"],
            "mediations": counts["agreements"] + counts["failures"]}


def figures(counts):
    """{indicator: {value, numerator, denominator}} from the counts (store.COUNTS); a rate of
    nothing is None, not 0."""
    counts = _derived(counts)
    found = {"registered": {"value": counts["registered"]}}
    for name, (num, den) in RATES.items():
        found[name] = {"value": round(counts[num] / counts[den], 4) if counts[den] else None,
                       "numerator": counts[num], "denominator": counts[den]}
    return found


def compared(now, previous, last_year):
    """Each indicator with its value in the previous period (环比) and a year before (同比), and
    the relative change of volumes / the difference of rates."""
    out = {}
    for name, current in now.items():
        entry = {**current, "definition": DEFINITIONS[name]}
        for label, other in (("previous_period", previous), ("same_period_last_year", last_year)):
            before = other[name]["value"]
            entry[label] = before
            entry[f"change_vs_{label}"] = _change(name, current["value"], before)
        out[name] = entry
    return out


def _change(name, value, before):
    if value is None or before is None:
        return None
    if name == "registered":  # volumes: relative change
        return round((value - before) / before, 4) if before else None
    return round(value - before, 4)  # rates: the difference in points (0.05 = five points)
