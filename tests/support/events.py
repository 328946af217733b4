"""Hand-made events for tests, whole by the contract: the catalog's example for the type, with
what a test cares about laid over it. Consumers park an event whose data breaks its schema, so a
test's event must be one a real producer could have sent."""
from fengqiao import catalog
from fengqiao.events import new_event

_CATALOG = catalog.load()


def contract_event(service, type, data, **envelope):
    return new_event(service, type, over(_CATALOG[type]["example"], data), **envelope)


def over(example, given):
    """`given` laid over `example`: objects key by key, each object of a list over the example's first."""
    if isinstance(example, dict) and isinstance(given, dict):
        return {**example, **{k: over(example[k], v) if k in example else v for k, v in given.items()}}
    if isinstance(example, list) and example and isinstance(given, list):
        return [over(example[0], item) for item in given]
    return given
