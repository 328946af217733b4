CREATE TABLE case_number_counters (
    township text    NOT NULL,
    year     integer NOT NULL,
    last     integer NOT NULL,
    PRIMARY KEY (township, year)
);

CREATE TABLE cases (
    id            uuid PRIMARY KEY,
    number        text NOT NULL UNIQUE,
    channel       text NOT NULL,
    location      text NOT NULL,
    township      text NOT NULL,
    category      text NOT NULL,
    channel_class text NOT NULL,
    subject       text NOT NULL,
    description   text NOT NULL,
    received_at   timestamptz NOT NULL,
    registered_at timestamptz NOT NULL
);
