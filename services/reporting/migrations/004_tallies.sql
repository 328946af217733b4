-- The indicators at province scale (tallies.py): each case row's counts, added up per county day
-- and per grouping of the dimensions the indicators filter on, so that a year of a county is a
-- few hundred rows, not a million cases. '*' stands for every value of a dimension, '' for none
-- yet (a case with no body). The fold appends what changed to tally_deltas (no row lock shared
-- between cases); a timer moves the deltas into tallies. Readers add both up.
ALTER TABLE cases
    ADD COLUMN open       boolean NOT NULL DEFAULT false,
    ADD COLUMN mediations jsonb   NOT NULL DEFAULT '[]';
-- Mediation conclusions were read from the events; they are now part of the case row (the fold).
UPDATE cases c SET mediations = m.list
FROM (SELECT case_id, jsonb_agg(jsonb_build_object('at', to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US+00:00'),
                                                   'body', data->>'mediating_body', 'outcome', data->>'outcome')
                                ORDER BY time, source, id) AS list
      FROM events WHERE type = 'mediation.concluded' AND data->>'outcome' <> 'transferred' AND case_id IS NOT NULL
      GROUP BY case_id) m
WHERE c.case_id = m.case_id;
UPDATE cases SET open = coalesce(status NOT IN ('resolved', 'followed_up', 'under_review', 'closed', 'not_accepted',
                                                'guided'), false);
-- The backlog and the open-case gauges read open cases only.
CREATE INDEX cases_open_by_place ON cases (township, village, registered_at) WHERE open;
CREATE INDEX cases_open_by_risk ON cases (township, risk) WHERE open;
CREATE INDEX cases_open_by_age ON cases (registered_at) WHERE open;
-- The filters the tallies do not hold (a village with another, three at once) read the rows.
CREATE INDEX cases_by_village ON cases (village, registered_at);
CREATE INDEX cases_by_body ON cases (body, registered_at);
CREATE INDEX cases_by_township_and_category ON cases (township, category, registered_at);
-- A township's overdue list, longest overdue first.
CREATE INDEX cases_overdue_by_township ON cases (township, next_due_at) WHERE next_due_at IS NOT NULL;
DROP INDEX cases_by_status;

CREATE TABLE tallies (
    day                   date   NOT NULL,
    township              text   NOT NULL,
    village               text   NOT NULL,
    category              text   NOT NULL,
    channel               text   NOT NULL,
    body                  text   NOT NULL,
    registered            integer NOT NULL DEFAULT 0,
    guided                integer NOT NULL DEFAULT 0,
    due_for_decision      integer NOT NULL DEFAULT 0,
    decided_on_time       integer NOT NULL DEFAULT 0,
    accepted              integer NOT NULL DEFAULT 0,
    resolved              integer NOT NULL DEFAULT 0,
    resolved_on_time      integer NOT NULL DEFAULT 0,
    rated                 integer NOT NULL DEFAULT 0,
    satisfied             integer NOT NULL DEFAULT 0,
    repeated              integer NOT NULL DEFAULT 0,
    resolved_first_time   integer NOT NULL DEFAULT 0,
    resolved_in_village   integer NOT NULL DEFAULT 0,
    resolved_in_township  integer NOT NULL DEFAULT 0,
    sent_to_county        integer NOT NULL DEFAULT 0,
    agreements            integer NOT NULL DEFAULT 0,
    failures              integer NOT NULL DEFAULT 0,
    -- The five as one value: the planner estimates one column's equality well, where five
    -- columns full of '*' made it expect a million rows and scan them all.
    key text GENERATED ALWAYS AS (township || '|' || village || '|' || category || '|' || channel || '|' || body)
        STORED,
    PRIMARY KEY (key, day)
);
CREATE TABLE tally_deltas (LIKE tallies INCLUDING DEFAULTS INCLUDING GENERATED, seq bigserial PRIMARY KEY);
-- The hotspots read a county's (or a township's) monthly places and categories.
CREATE INDEX tallies_by_month_and_place ON tallies (day, township)
    WHERE township <> '*' AND village <> '*' AND category <> '*' AND channel = '*' AND body = '*';
CREATE INDEX tally_deltas_by_key ON tally_deltas (key, day);
-- When the tallies were last built from the case rows, and for which groupings, counts and
-- time zone (store.tally_version): until they are built for the running code, the indicators
-- count the rows and the service builds them.
CREATE TABLE tally_state (built_at timestamptz, version text);
INSERT INTO tally_state VALUES (NULL, NULL);
