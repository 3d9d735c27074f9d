-- How the user treats the tagging model's own keywords (taught ones retrain instead): each proposal the user
-- judged in the review app (accepted or rejected, with the model's score then), and what the engine changed
-- because of it: a raised threshold, a keyword no longer proposed, or the user's "keep proposing it".
CREATE TABLE keyword_feedback (
    keyword  TEXT NOT NULL COLLATE NOCASE,
    file_id  INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    verdict  TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
    score    REAL NOT NULL,
    at       REAL NOT NULL,
    PRIMARY KEY (keyword, file_id)
);

CREATE TABLE keyword_adjustments (
    keyword     TEXT PRIMARY KEY COLLATE NOCASE,
    state       TEXT NOT NULL CHECK (state IN ('raised', 'muted', 'kept')),
    threshold   REAL,
    accepted    INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL DEFAULT '',
    changed_at  REAL NOT NULL
);
