"""Who may see what (SPEC 2.2), in one place for every service: a caller sees and acts only
within the subtree of the county tree their token's scope names, and discipline reports
(纪检举报) only in the discipline role. A record outside is not found — its existence is not
revealed (each service answers 404 where `sees` says no). Pure: a principal, the county and a
record's place in, yes or no (or a SQL filter) out."""
from fengqiao.facts import Forbidden

DISCIPLINE = "discipline"  # the channel class of discipline reports
# What events say of a discipline report's text (its subject, replies, notes, reasons): every
# service and integrator reads the events; only discipline officers may read the report.
WITHHELD = "纪检举报（内容仅纪检监察人员可见）"
# Roles that see discipline reports: their officers, and the services among themselves (notify
# reaching a petitioner, reporting counting them).
DISCIPLINE_ROLES = ("discipline_officer", "service")


def sees_discipline(who):
    return who.has_any(DISCIPLINE_ROLES)


def covers(who, county, place):
    """Is the node `place` within the caller's scope? The county's scope covers every place,
    even one the county file no longer lists."""
    return who.scope == county.code or (place is not None and county.covers(who.scope, place))


def sees(who, county, place, channel_class=None):
    if channel_class == DISCIPLINE and not sees_discipline(who):
        return False
    return covers(who, county, place)


def places_within(who, county):
    """The codes of every node in the caller's scope, or None for the whole county."""
    if who.scope == county.code:
        return None
    return sorted(code for code in county.nodes if county.covers(who.scope, code))


def sql_filter(who, county, place_column="location", class_column="channel_class"):
    """(SQL condition, parameters) keeping only the rows the caller may see; the columns hold a
    record's node and channel class (None: the table has no class)."""
    clauses, params = [], []
    within = places_within(who, county)
    if within is not None:
        clauses.append(f"{place_column} = ANY(%s)")
        params.append(within)
    if class_column and not sees_discipline(who):
        clauses.append(f"{class_column} IS DISTINCT FROM %s")
        params.append(DISCIPLINE)
    return (" AND ".join(clauses) or "true"), params


def narrow(who, county, asked_township=None, asked_village=None):
    """The township and village filters of a question about figures, narrowed to the caller's
    scope: a township or village scope sets its own; asking for a place outside is refused.
    Figures stop at villages (a grid's cases are too few to count apart)."""
    if who.scope == county.code:
        return asked_township, asked_village
    node = county.nodes.get(who.scope)
    if node is None or node.level not in ("township", "village"):
        raise Forbidden(f"figures are for a county, township or village scope, not {who.scope}")
    township = county.township_of(who.scope).code
    if asked_township not in (None, township):
        raise Forbidden(f"{asked_township} lies outside your jurisdiction ({who.scope})")
    if node.level == "village":
        if asked_village not in (None, who.scope):
            raise Forbidden(f"{asked_village} lies outside your jurisdiction ({who.scope})")
        return township, who.scope
    if asked_village is not None and not county.covers(who.scope, asked_village):
        raise Forbidden(f"{asked_village} lies outside your jurisdiction ({who.scope})")
    return township, asked_village
