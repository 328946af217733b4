-- The relay takes the oldest pending rows first. Indexed by seq, the scan hands them over in
-- order and stops at the batch; indexed by next_attempt_at, it read every due row — in a flood,
-- the whole backlog — to sort them, on every batch.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
