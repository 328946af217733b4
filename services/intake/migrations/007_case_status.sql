-- What routing last told of each case (its events carry the status they leave the case in), so
-- that intake can answer Open311's open/closed without asking routing: the status and the time
-- of the event that set it (a later event wins, whatever order they arrive in), and the body the
-- case was last assigned to. NULL: routing has said nothing yet (registered, or guided at the
-- window, which routing never takes).
ALTER TABLE cases
    ADD COLUMN status     text,
    ADD COLUMN status_at  timestamptz,
    ADD COLUMN agency     text,
    ADD COLUMN agency_at  timestamptz;
