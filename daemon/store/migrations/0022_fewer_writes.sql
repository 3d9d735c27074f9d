-- Fewer index pages rewritten per photo (issue 18, write less). Every stage advance moved each job's entry in
-- jobs_claim and jobs_order (both keyed on state, stage) and every state change its entry in jobs_file.
-- jobs_file (file_id, state): jobs_file_fingerprint (file_id, fingerprint) already finds a file's few jobs.
DROP INDEX IF EXISTS jobs_file;
-- jobs_claim (state, stage, not_before) served only the claim of waiting jobs by time: a partial index holds
-- only waiting jobs, so queued -> running -> done never touches it.
DROP INDEX IF EXISTS jobs_claim;
CREATE INDEX jobs_waiting ON jobs (stage, not_before) WHERE state = 'waiting';
-- stage_runs (at): only the nightly prune read it; rows are appended in time order, so it goes by rowid.
DROP INDEX IF EXISTS stage_runs_at;
