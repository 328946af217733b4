-- A case's whole handling state (status, bodies, risk, leader, resolution, follow-up, reviews)
-- lives in `record`, written by the domain; the columns beside it are what queries filter on.
ALTER TABLE cases ALTER COLUMN body DROP NOT NULL;
ALTER TABLE cases ALTER COLUMN reason DROP NOT NULL;
ALTER TABLE cases ALTER COLUMN assigned_at DROP NOT NULL;
ALTER TABLE cases
    ADD COLUMN risk          text        NOT NULL DEFAULT 'blue',
    ADD COLUMN tier          text,
    ADD COLUMN registered_at timestamptz,
    ADD COLUMN correlationid text,
    ADD COLUMN record        jsonb       NOT NULL DEFAULT '{}';
CREATE INDEX cases_by_township_status ON cases (township, status);

-- Whistles (吹哨报到): the bodies named and when each reported.
CREATE TABLE whistles (
    id        uuid PRIMARY KEY,
    case_id   uuid        NOT NULL REFERENCES cases (id),
    status    text        NOT NULL,  -- open | answered | escalated
    raised_at timestamptz NOT NULL,
    record    jsonb       NOT NULL
);
CREATE INDEX whistles_by_case ON whistles (case_id);
