-- A client that did not hear the answer retries with the same Idempotency-Key and gets the
-- same case back, never a second one (nor a second repeat count).
ALTER TABLE cases ADD COLUMN idempotency_key text UNIQUE;
ALTER TABLE repeat_petitions ADD COLUMN idempotency_key text UNIQUE;
