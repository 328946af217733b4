"""Assignment (交办): which body owns a case, and why. For now a category table read from the
county file: the nearest body to the case's place that handles its category."""


class NoBody(LookupError):
    pass


def pick_body(county, location, category):
    """(body, reason). Looks at the case's node, then up the tree (village → township →
    county) for the first body listing the category; failing that, the township petition
    office (信访办), which hands it on."""
    node = county.nodes[location]
    while node is not None:
        for body in county.bodies_at(node.code):
            if category in body.categories:
                return body, f"category {category} is handled by {body.code} at {node.level} {node.code}"
        node = county.nodes.get(node.parent) if node.parent else None
    township = county.township_of(location)
    for body in county.bodies_at(township.code):
        if body.kind == "petition_office":
            return body, f"no body lists category {category}; the petition office of {township.code} takes it"
    raise NoBody(f"no body for category {category} at {location}")


def assigned_event(case, body, reason):
    return {
        "case_id": case["case_id"],
        "number": case["number"],
        "township": case["township"],
        "body": body.code,
        "body_name": body.name,
        "body_level": body.level,
        "reason": reason,
    }
