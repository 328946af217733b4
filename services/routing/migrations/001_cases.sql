CREATE TABLE cases (
    id          uuid PRIMARY KEY,
    number      text NOT NULL UNIQUE,
    township    text NOT NULL,
    location    text NOT NULL,
    category    text NOT NULL,
    status      text NOT NULL,
    body        text NOT NULL,
    reason      text NOT NULL,  -- why this body: the rule that matched
    assigned_at timestamptz NOT NULL
);
