"""The window's guide (导访): which lawful route applies to a kind of matter, and why."""


def guidance(county, category_code):
    category = county.categories[category_code]
    routes = county.lawful_routes
    return {
        "category": category_code,
        "label": category["label"],
        "channel_class": category["channel_class"],
        "lawful_route": {"code": category["lawful_route"], **routes[category["lawful_route"]]},
        "legal_basis": category["legal_basis"],
        "other_routes": [{"code": r, **routes[r]} for r in category["other_routes"]],
    }


def catalogue(county):
    return [guidance(county, code) for code in county.categories]
