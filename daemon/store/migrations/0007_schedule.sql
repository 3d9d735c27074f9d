-- Scheduled retries: only failures of a passing kind are retried, with back-off between rounds.
-- jobs.permanent: the file itself is the problem (set by queue.fail); scheduled_retries: rounds done so far.
ALTER TABLE jobs ADD COLUMN permanent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN scheduled_retries INTEGER NOT NULL DEFAULT 0;
-- Failures recorded before this migration did not say their kind: only internal errors count as passing.
UPDATE jobs SET permanent = 1 WHERE state = 'failed' AND (error IS NULL OR error NOT LIKE 'internal error:%');
-- Nightly pruning by age.
CREATE INDEX events_at ON events (at);
CREATE INDEX stage_runs_at ON stage_runs (at);
