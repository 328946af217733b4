-- A case's files, concluded ones too (numbering the next file counts them): without this index
-- each new file read the whole table.
CREATE INDEX files_by_case ON files (case_id);
