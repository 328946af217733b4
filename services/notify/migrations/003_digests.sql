-- The monthly digests made: one per township and month, claimed by the dispatcher that makes it
-- (several replicas, restarts: never a second digest).
CREATE TABLE digests (
    township text NOT NULL,
    month    text NOT NULL,  -- YYYY-MM, county time
    made_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (township, month)
);
