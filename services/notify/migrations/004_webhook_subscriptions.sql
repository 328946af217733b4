-- Webhook subscriptions integrators register over HTTP (SPEC 2.1): each receives the events it
-- names, signed with its own secret. One delivery per subscription and event (however often the
-- event comes), sent beside the consumers, never on their path, and retried with backoff.
CREATE TABLE webhook_subscriptions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url         text NOT NULL,
    event_types text[] NOT NULL,       -- a type, "<prefix>.*" (case.*) or "*"
    secret      text NOT NULL,         -- signs each delivery; never shown again after registering
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL,         -- the token's subject: an integrator manages its own
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq             bigserial,         -- the order events reached notify: each subscriber's order
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions ON DELETE CASCADE,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL,    -- the whole event, as it is sent
    status          text NOT NULL DEFAULT 'pending',  -- pending, delivered, failed
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),  -- also a sender's lease while it sends
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription_id, event_id)
);
-- What is due, per subscription (one probe each, however long a subscriber's backlog), the next
-- in order, a subscription's deliveries newest first, and the delivered ones to prune after a week.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (subscription_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_next ON webhook_deliveries (subscription_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (subscription_id, seq);
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (delivered_at) WHERE status = 'delivered';
