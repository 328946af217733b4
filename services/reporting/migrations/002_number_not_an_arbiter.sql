-- The case id is the row's identity. A second unique key on the number made two first events
-- of one case, projected at the same moment, collide on it instead of taking the upsert path.
ALTER TABLE cases DROP CONSTRAINT cases_number_key;
CREATE INDEX cases_by_number ON cases (number);
