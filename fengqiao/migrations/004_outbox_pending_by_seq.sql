-- migrate: each statement on its own
-- The relay takes the oldest pending rows first. Indexed by seq, the scan hands them over in
-- order and stops at the batch; indexed by next_attempt_at, it read every due row — in a flood,
-- the whole backlog — to sort them, on every batch. Built beside the old index without blocking
-- the outbox's writes, then the old one dropped.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_pending_by_seq ON outbox (seq) WHERE published_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS outbox_pending;
