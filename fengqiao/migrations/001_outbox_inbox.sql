-- Transactional outbox: events written in the same transaction as the change they describe.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    exchange     text        NOT NULL,
    routing_key  text        NOT NULL,
    envelope     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error   text
);
-- The relay only ever scans pending rows.
CREATE INDEX outbox_pending ON outbox (next_attempt_at, seq) WHERE published_at IS NULL;

-- Inbox: one row per (consumer, event) handled, written in the handler's transaction.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    source      text        NOT NULL,
    event_id    text        NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);
