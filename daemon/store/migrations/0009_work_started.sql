-- How many times the engine died while a stage was working on this job's file (not merely holding the claim,
-- e.g. while a model loaded): only these deaths count toward failing the file. Reset when the stage completes.
ALTER TABLE jobs ADD COLUMN touched INTEGER NOT NULL DEFAULT 0;
