CREATE TABLE notifications (
    id         uuid PRIMARY KEY,
    case_id    uuid NOT NULL,
    number     text NOT NULL,
    kind       text NOT NULL,
    channel    text NOT NULL,   -- inbox, sms, email, webhook
    recipient  text NOT NULL,   -- a body code or staff id; never a petitioner's contact
    text       text NOT NULL,
    status     text NOT NULL,   -- pending, sent, failed
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX notifications_by_case ON notifications (number);
