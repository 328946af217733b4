-- Every message, from the trigger that made it to its delivery (status pending, sent, failed or
-- skipped — nobody to send to): one row per trigger, occasion,
-- recipient and channel (dedup_key), so no message exists twice however often its event comes.
-- Addresses are never stored: a staff member's comes from the county file, a petitioner's from
-- intake, at the moment of sending.
ALTER TABLE notifications ALTER COLUMN case_id DROP NOT NULL;
ALTER TABLE notifications ALTER COLUMN number DROP NOT NULL;
ALTER TABLE notifications
    ADD COLUMN dedup_key       text,
    ADD COLUMN recipient_kind  text NOT NULL DEFAULT 'body',  -- staff, body, petitioner, webhook
    ADD COLUMN subject         text,
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,                   -- pending: not before this (quiet hours, backoff)
    ADD COLUMN last_error      text,
    ADD COLUMN event_id        text,
    ADD COLUMN correlationid   text,
    ADD COLUMN payload         jsonb,                         -- a webhook's event, as it is sent
    ADD COLUMN read_at         timestamptz,                   -- an inbox message, once read
    ADD COLUMN delivered_to    integer[] NOT NULL DEFAULT '{}';  -- the petitioners (positions) one SMS reached
UPDATE notifications SET dedup_key = id::text WHERE dedup_key IS NULL;
ALTER TABLE notifications ALTER COLUMN dedup_key SET NOT NULL;
CREATE UNIQUE INDEX notifications_once ON notifications (dedup_key);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_inbox ON notifications (recipient, created_at) WHERE channel = 'inbox';
