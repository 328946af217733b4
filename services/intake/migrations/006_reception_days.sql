-- Leader reception days (领导坐班接访): the published roster of who receives visitors when and
-- where, per township, and the appointments (预约) petitioners book with the leader on duty.
CREATE TABLE reception_sessions (
    id           uuid PRIMARY KEY,
    township     text        NOT NULL,
    leader_id    text        NOT NULL,  -- the county's staff id of the leader (later from config)
    leader_name  text        NOT NULL,
    leader_post  text        NOT NULL,  -- e.g. 镇党委书记
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    place        text        NOT NULL,
    capacity     integer     NOT NULL CHECK (capacity >= 1),
    published_at timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX reception_sessions_by_township ON reception_sessions (township, starts_at);
CREATE INDEX reception_sessions_by_leader ON reception_sessions (leader_id, starts_at);

-- The phone is personal data: sealed like a petitioner's (see the petitioners table), found
-- again through its keyed hash, shown by its last 4 digits. A cancelled appointment is kept
-- (cancelled_at) and frees its place.
CREATE TABLE reception_appointments (
    id           uuid PRIMARY KEY,
    reception_id uuid        NOT NULL REFERENCES reception_sessions (id),
    name         text        NOT NULL,
    phone_sealed text        NOT NULL,
    phone_hash   text        NOT NULL,
    phone_last4  text        NOT NULL,
    subject      text        NOT NULL,
    booked_at    timestamptz NOT NULL,
    cancelled_at timestamptz
);
-- One live appointment per phone and session, whatever races the service's own check.
CREATE UNIQUE INDEX reception_appointments_one_per_phone
    ON reception_appointments (reception_id, phone_hash) WHERE cancelled_at IS NULL;
