-- The case row becomes the fold of all the case's events (projection.py): every fact the
-- indicators count, with the indexes they filter on. `next_due_at` is the earliest due moment
-- of the case's running deadlines: past it, the case is overdue.
ALTER TABLE cases ALTER COLUMN updated_at DROP NOT NULL;
ALTER TABLE cases
    ADD COLUMN village            text,
    ADD COLUMN location           text,
    ADD COLUMN channel_class      text,
    ADD COLUMN subject            text,
    ADD COLUMN registered_at      timestamptz,
    ADD COLUMN petitioner_count   integer,
    ADD COLUMN collective         boolean NOT NULL DEFAULT false,
    ADD COLUMN tier               text,
    ADD COLUMN escalated_to_county boolean NOT NULL DEFAULT false,
    ADD COLUMN risk               text NOT NULL DEFAULT 'blue',
    ADD COLUMN accepted_at        timestamptz,
    ADD COLUMN decided_at         timestamptz,
    ADD COLUMN acceptance_overdue boolean NOT NULL DEFAULT false,
    ADD COLUMN handling_overdue   boolean NOT NULL DEFAULT false,
    ADD COLUMN resolved_at        timestamptz,
    ADD COLUMN resolution_tier    text,
    ADD COLUMN outcome            text,
    ADD COLUMN followed_up_at     timestamptz,
    ADD COLUMN rating             text,
    ADD COLUMN closed_at          timestamptz,
    ADD COLUMN repeat_count       integer NOT NULL DEFAULT 0,
    ADD COLUMN mediation_outcome  text,
    ADD COLUMN next_due_at        timestamptz,
    ADD COLUMN deadlines          jsonb NOT NULL DEFAULT '[]';
CREATE INDEX cases_by_registration ON cases (registered_at);
CREATE INDEX cases_by_place ON cases (township, village, registered_at);
CREATE INDEX cases_open_by_due ON cases (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX events_by_type_time ON events (type, time);
