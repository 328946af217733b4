-- migrate: each statement on its own
-- A case's files, concluded ones too (numbering the next file counts them): without this index
-- each new file read the whole table. Built without blocking the files' writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS files_by_case ON files (case_id);
