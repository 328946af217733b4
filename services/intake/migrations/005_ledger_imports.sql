-- Each ledger (台账) import: who brought which file for which township, and what became of
-- each row (row -> case number, or the reasons it was refused). The file is identified by a
-- keyed hash; the report holds no personal data.
CREATE TABLE ledger_imports (
    id               uuid PRIMARY KEY,
    township         text        NOT NULL,
    imported_by      text        NOT NULL,
    imported_at      timestamptz NOT NULL,
    file_fingerprint text        NOT NULL,
    format           text        NOT NULL,
    rows             integer     NOT NULL,
    registered       integer     NOT NULL,
    linked           integer     NOT NULL,
    already_imported integer     NOT NULL,
    rejected         integer     NOT NULL,
    report           jsonb       NOT NULL
);
CREATE INDEX ledger_imports_by_township ON ledger_imports (township, imported_at);
