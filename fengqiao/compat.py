"""Whether the event catalog still keeps the promises of a released one (README "Versioning"):
what a consumer written against the release relies on must hold for every event published now."""
from fengqiao.catalog import emitters, inlined


def breaks(released, current):
    """Every broken promise, as a sentence; [] when `current` is compatible with `released`."""
    found = []
    for type, old in sorted(released.items()):
        new = current.get(type)
        if new is None:
            found.append(f"{type}: removed (ship {type} beside its successor until the next major version)")
            continue
        if gone := set(emitters(old)) - set(emitters(new)):
            found.append(f"{type}: no longer emitted by {sorted(gone)}")
        found += _schema_breaks(type, "data", inlined(old["data"]), inlined(new["data"]))
    return found


def _schema_breaks(type, where, old, new):
    found = []
    if _types(old) and not (_types(new) and _types(new) <= _types(old)):
        found.append(f"{type}: {where} may now be {sorted(_types(new) - _types(old)) or 'of any type'}")
    if "enum" in old and not set(new.get("enum", [object()])) <= set(old["enum"]):
        found.append(f"{type}: {where} takes new values {sorted(set(new.get('enum', ['anything'])) - set(old['enum']))}")
    for keyword in ("const", "pattern", "format", "minimum", "maximum"):  # a looser promise breaks too
        if keyword in old and new.get(keyword) != old[keyword]:
            found.append(f"{type}: {where} changed its {keyword}")
    for name in set(old.get("required", [])) - set(new.get("required", [])):
        found.append(f"{type}: {where}.{name} is no longer always there")
    for name in set(new.get("required", [])) - set(old.get("required", [])):  # an older producer lacks it
        found.append(f"{type}: {where}.{name} is newly required (add it as optional)")
    for name, schema in old.get("properties", {}).items():
        if name not in new.get("properties", {}):
            found.append(f"{type}: {where}.{name} removed")
        else:
            found += _schema_breaks(type, f"{where}.{name}", schema, new["properties"][name])
    if isinstance(old.get("items"), dict):
        found += _schema_breaks(type, f"{where}[]", old["items"], new.get("items") or {})
    return found


def _types(schema):
    value = schema.get("type")
    return set(value) if isinstance(value, list) else {value} if value else set()

