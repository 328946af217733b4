-- Every event as received: the source of truth of the read model, which can be rebuilt from it.
CREATE TABLE events (
    seq           bigserial PRIMARY KEY,
    source        text NOT NULL,
    id            text NOT NULL,
    type          text NOT NULL,
    time          timestamptz NOT NULL,
    subject       text,
    case_id       uuid,
    correlationid text NOT NULL,
    data          jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, id)
);
CREATE INDEX events_by_case ON events (case_id, time);

CREATE TABLE cases (
    case_id    uuid PRIMARY KEY,
    number     text NOT NULL UNIQUE,
    township   text,
    category   text,
    channel    text,
    body       text,
    status     text,
    status_at  timestamptz,
    updated_at timestamptz NOT NULL
);
CREATE INDEX cases_by_status ON cases (status);
