-- A claim reads queued jobs of one stage in id order straight from this index (no sort of the backlog),
-- and "done today" in status reads a range of finished_at.
CREATE INDEX jobs_order ON jobs (state, stage);
CREATE INDEX jobs_finished ON jobs (finished_at);
