-- Deadlines (时限) of cases and mediation files: one row per started deadline; see
-- fengqiao/deadline_store.py and deploy/county/deadlines.yaml.
CREATE TABLE deadlines (
    id                 uuid        PRIMARY KEY,
    owner_id           uuid        NOT NULL,          -- case, whistle or mediation file
    owner_number       text,                          -- the case number, for people
    township           text,
    policy             text        NOT NULL,
    -- the terms it started with, so a resume or an extension needs no policy file
    duration           integer     NOT NULL CHECK (duration > 0),
    unit               text        NOT NULL CHECK (unit IN ('calendar_days', 'working_days', 'hours')),
    max_extension_days integer,
    started_at         timestamptz NOT NULL,
    due_at             timestamptz NOT NULL,
    paused_at          timestamptz,                   -- null unless paused now
    paused_seconds     numeric(18, 6) NOT NULL DEFAULT 0,  -- finished pauses, credited to due_at
    extension_days     integer     NOT NULL DEFAULT 0,
    stopped_at         timestamptz,
    reminders_sent     text[]      NOT NULL DEFAULT '{}',  -- threshold keys done ("50%", "1d")
    overdue_days_sent  integer     NOT NULL DEFAULT -1,    -- last overdue day noticed; -1 none
    next_alert_at      timestamptz,                   -- when the sweep should look again
    correlationid      text,
    context            jsonb       NOT NULL DEFAULT '{}'::jsonb
);
-- One running deadline per owner and policy: starting it twice is a no-op (ON CONFLICT).
CREATE UNIQUE INDEX deadlines_one_active ON deadlines (owner_id, policy) WHERE stopped_at IS NULL;
-- The sweep reads running, unpaused deadlines by the moment they next owe a notice.
CREATE INDEX deadlines_sweep ON deadlines (next_alert_at, id) WHERE stopped_at IS NULL AND paused_at IS NULL;
