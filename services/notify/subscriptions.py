"""Webhook subscriptions (事件订阅): what an integrator may ask for and who may see which
subscription. The events are the catalog's, masked as on the exchanges (SPEC 2.1), so a
subscription receives nothing a queue bound to the exchanges would not."""
import ipaddress
from urllib.parse import urlsplit

EVERYTHING = "*"
MIN_SECRET_LENGTH = 16  # an HMAC key short enough to guess protects nothing


def event_type_errors(patterns, known_types):
    """{position: message} for each pattern that names no event: a catalog type, a prefix of
    one followed by ".*" (case.*), or "*" for every event."""
    prefixes = {t.split(".", 1)[0] for t in known_types}
    errors = {}
    for position, pattern in enumerate(patterns):
        prefix, star = pattern[:-2], pattern.endswith(".*")
        if pattern != EVERYTHING and pattern not in known_types and not (star and prefix in prefixes):
            errors[position] = (f"no event {pattern!r}: name a catalog type (case.assigned), a prefix with .*"
                                f" ({', '.join(sorted(p + '.*' for p in prefixes))}) or *")
    return errors


def url_error(url):
    """Why a subscriber's address cannot be delivered to, or None."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "an address without spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # a port that is no number, or out of range, raises here
    except ValueError:
        return "an absolute http:// or https:// address"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an absolute http:// or https:// address"
    if parts.username or parts.password:
        return "no credentials in the address: deliveries are signed with the secret instead"
    return None


def internal(addresses):
    """Does any of the addresses a host resolves to lie inside a network (loopback, private,
    link-local: the services, the cloud's metadata)? A subscription must not be a way to reach them."""
    return any(not ipaddress.ip_address(a.split("%", 1)[0]).is_global for a in addresses)


def may_manage(who, subscription):
    """An integrator manages the subscriptions it registered; an operator manages all."""
    return who.has_any(("operator",)) or subscription["created_by"] == who.subject
