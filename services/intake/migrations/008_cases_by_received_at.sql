-- migrate: each statement on its own
-- Open311's GET requests searches by the time a request was made (requested_datetime); built
-- without blocking registrations.
CREATE INDEX CONCURRENTLY IF NOT EXISTS cases_by_received_at ON cases (received_at);
