-- The class the category proposed and the clerk's reason when overriding it; the lawful route
-- a matter was guided to at the window; the problem cluster a case belongs to.
ALTER TABLE cases
    ADD COLUMN proposed_channel_class text,
    ADD COLUMN channel_class_reason   text,
    ADD COLUMN guided_to              jsonb,
    ADD COLUMN cluster_id             uuid;
UPDATE cases SET proposed_channel_class = channel_class WHERE proposed_channel_class IS NULL;

CREATE TABLE problem_clusters (
    id         uuid PRIMARY KEY,
    category   text NOT NULL,
    place      text NOT NULL,
    township   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_by_cluster ON cases (cluster_id) WHERE cluster_id IS NOT NULL;
