-- Channels, petitioners (personal data sealed) and repeat petitions.
ALTER TABLE cases
    ADD COLUMN place            text,
    ADD COLUMN anonymous        boolean NOT NULL DEFAULT false,
    ADD COLUMN collective       boolean NOT NULL DEFAULT false,
    ADD COLUMN repeat_count     integer NOT NULL DEFAULT 0,
    ADD COLUMN details          jsonb   NOT NULL DEFAULT '{}',
    ADD COLUMN hotline_order_id text UNIQUE,  -- one case per 12345 work order, however often sent
    ADD COLUMN correlationid    text;
UPDATE cases SET place = location WHERE place IS NULL;
ALTER TABLE cases ALTER COLUMN place SET NOT NULL;
CREATE INDEX cases_by_matter ON cases (category, place, registered_at);

-- ID number, phone and address are stored sealed (encrypted); the keyed hashes find the same
-- person again without decrypting; the last 4 characters serve masked displays.
CREATE TABLE petitioners (
    case_id          uuid    NOT NULL REFERENCES cases (id),
    position         integer NOT NULL,
    name             text    NOT NULL,
    id_number_sealed text,
    id_number_hash   text,
    id_number_last4  text,
    phone_sealed     text,
    phone_hash       text,
    phone_last4      text,
    address_sealed   text,
    PRIMARY KEY (case_id, position)
);
CREATE INDEX petitioners_by_id_number ON petitioners (id_number_hash) WHERE id_number_hash IS NOT NULL;
CREATE INDEX petitioners_by_phone ON petitioners (phone_hash) WHERE phone_hash IS NOT NULL;

-- Each later petition by the same person on the same matter (重复信访), linked to the open case.
CREATE TABLE repeat_petitions (
    id            uuid PRIMARY KEY,
    case_id       uuid NOT NULL REFERENCES cases (id),
    channel       text NOT NULL,
    subject       text NOT NULL,
    received_at   timestamptz NOT NULL,
    registered_at timestamptz NOT NULL
);
