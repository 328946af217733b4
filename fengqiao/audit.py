"""The audit log (审计日志): each entry chained to the one before by a hash, so that a removed or
altered entry shows. Entries are appended one at a time (an advisory lock held to the end of the
writing transaction), which keeps the chain in commit order. SQL over a connection of the
service's database (backbone migration 003)."""
import hashlib
import json
from datetime import timezone

GENESIS = "0" * 64
_LOCK = "fengqiao.audit"
COLUMNS = ("at", "subject", "roles", "scope", "action", "target", "source", "details")


def digest(prev_hash, entry):
    """The hash of an entry: its fields and the hash of the entry before it."""
    fields = {**{k: entry[k] for k in COLUMNS}, "at": entry["at"].astimezone(timezone.utc).isoformat(),
              "roles": list(entry["roles"])}
    text = json.dumps([prev_hash, fields], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def record(conn, who, action, target, source, details):
    """Append an entry in the caller's transaction (it commits or rolls back with it), stamped
    by the database's clock (one clock for every replica: entries in order, times too)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
    last = conn.execute(  # the newest entry by the primary key's index (a join here would read the whole log)
        "SELECT (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS hash, clock_timestamp() AS now").fetchone()
    entry = {"at": last["now"], "subject": who.subject, "roles": list(who.roles),
             "scope": who.scope, "action": action, "target": target, "source": source, "details": details}
    prev_hash = last["hash"] or GENESIS
    conn.execute(
        "INSERT INTO audit_log (at, subject, roles, scope, action, target, source, details, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (entry["at"], entry["subject"], entry["roles"], entry["scope"], action, target, source,
         json.dumps(details, ensure_ascii=False), prev_hash, digest(prev_hash, entry)))


def entries(conn, subject=None, action=None, since=None, until=None, limit=500):
    """The newest entries first, by who, what (a prefix of the action) and when."""
    return conn.execute(
        "SELECT * FROM audit_log WHERE (%(subject)s::text IS NULL OR subject = %(subject)s)"
        " AND (%(action)s::text IS NULL OR action LIKE %(action)s || '%%')"
        " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s) AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"
        " ORDER BY seq DESC LIMIT %(limit)s",
        {"subject": subject, "action": action, "since": since, "until": until, "limit": limit}).fetchall()


def verify(conn, batch=5000):
    """Walk the chain from the first entry: {entries, intact, first_broken (seq), head (hash)}.
    An entry removed, inserted or altered breaks the chain at the entry after it."""
    count, prev_hash, after = 0, GENESIS, 0
    while rows := conn.execute("SELECT * FROM audit_log WHERE seq > %s ORDER BY seq LIMIT %s", (after, batch)).fetchall():
        for row in rows:
            if row["prev_hash"] != prev_hash or row["hash"] != digest(prev_hash, row):
                return {"entries": count, "intact": False, "first_broken": row["seq"], "head": prev_hash}
            count, prev_hash, after = count + 1, row["hash"], row["seq"]
    return {"entries": count, "intact": True, "first_broken": None, "head": prev_hash}
