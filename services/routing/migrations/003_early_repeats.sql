-- Repeat petitions (case.repeat_linked) that overtook their case's case.registered on the way
-- here (each event type has its own queue); applied when the registration arrives.
CREATE TABLE early_repeats (
    case_id      uuid        NOT NULL,
    repeat_count integer     NOT NULL,
    petitioners  integer     NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX early_repeats_by_case ON early_repeats (case_id);
