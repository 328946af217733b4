-- Mediation's own record of the cases it may open files for, from intake's case.registered
-- (discipline-class and guided cases are never kept). A case assigned before its registration
-- arrived has a row with what the assignment said, filled in when the registration comes.
CREATE TABLE cases (
    id            uuid PRIMARY KEY,
    number        text NOT NULL,
    township      text NOT NULL,
    location      text,
    category      text,
    channel_class text,
    subject       text,
    description   text,
    petitioners   jsonb NOT NULL DEFAULT '[]',  -- masked as in the event: names only are used
    correlationid text,
    registered    boolean NOT NULL DEFAULT false
);

-- Mediation files (调解卷宗): the whole file (parties, mediators, sessions, pauses, outcome,
-- performance) lives in `record`, written by the domain; the columns are what queries use.
CREATE TABLE files (
    id           uuid PRIMARY KEY,
    number       text NOT NULL UNIQUE,           -- <case number>-M<n>
    case_id      uuid NOT NULL REFERENCES cases (id),
    case_number  text NOT NULL,
    township     text NOT NULL,
    body         text NOT NULL,
    kind         text NOT NULL,
    complexity   text NOT NULL,
    status       text NOT NULL,                  -- open | paused | concluded
    outcome      text,                           -- agreement | no_agreement | withdrawn
    mediators    text[] NOT NULL DEFAULT '{}',
    opened_at    timestamptz NOT NULL,
    concluded_at timestamptz,
    record       jsonb NOT NULL
);
-- One file in progress per case: opening a second one while the first runs is refused.
CREATE UNIQUE INDEX files_one_open_per_case ON files (case_id) WHERE status <> 'concluded';
CREATE INDEX files_by_body ON files (body, status);
CREATE INDEX files_by_mediator ON files USING gin (mediators);
CREATE INDEX files_concluded ON files (concluded_at) WHERE concluded_at IS NOT NULL;
