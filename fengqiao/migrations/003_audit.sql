-- The audit log (审计日志): who did what, when and from where — every change a person makes
-- and every read of personal data. Append-only: UPDATE, DELETE and TRUNCATE are refused (the
-- triggers below) — against mistakes and a service's own code; a user who owns the table can
-- lift them, so production runs the services as a role that does not (README, Operating).
-- Each row's hash covers the one before: a row removed or altered breaks the chain
-- (fengqiao/audit.py); an auditor who notes the head hash also tells a cut at the end.
CREATE TABLE audit_log (
    seq       bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL,
    subject   text        NOT NULL,  -- the token's sub: a staff id, or a service
    roles     text[]      NOT NULL,
    scope     text        NOT NULL,
    action    text        NOT NULL,  -- the HTTP route: "POST /cases/{number}/sign"
    target    text        NOT NULL,  -- what it named: the path asked
    source    text,                  -- from where: the client's address
    details   jsonb       NOT NULL,  -- the status answered, the events emitted
    prev_hash text        NOT NULL,
    hash      text        NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, at);
CREATE INDEX audit_log_by_time ON audit_log (at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
