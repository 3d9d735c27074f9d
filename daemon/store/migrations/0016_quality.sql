-- Scores analyzers give a whole photo (quality 0..100, sensitive-content likelihood 0..1), one row per analyzer,
-- searchable as filters (`search --min-quality`) and read by the duplicate keeper rule `best_quality`.
CREATE TABLE photo_scores (
    file_id      INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    analyzer     TEXT NOT NULL,
    score        REAL NOT NULL,
    model        TEXT NOT NULL DEFAULT '',
    analyzed_at  REAL NOT NULL,
    PRIMARY KEY (file_id, analyzer)
);
CREATE INDEX photo_scores_by_score ON photo_scores (analyzer, score);

-- Bursts: near-identical frames from one camera seconds apart; `best` marks the one with the highest quality.
-- A burst's id is its oldest member's file id.
CREATE TABLE bursts (
    file_id   INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    burst_id  INTEGER NOT NULL,
    best      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX bursts_by_burst ON bursts (burst_id);
CREATE INDEX media_by_camera_time ON media (make, model, taken);
