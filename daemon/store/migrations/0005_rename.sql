-- The rename journal: every move the engine makes (filing, undo) is written as an intent before it happens
-- and confirmed after; dry-run plans are kept here too. Companions: JSON [[src, dest], ...] moved alongside.
CREATE TABLE rename_journal (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('file', 'undo')),
    state       TEXT NOT NULL CHECK (state IN ('open', 'done', 'rolled_back', 'undone', 'planned', 'discarded')),
    job_id      INTEGER,
    file_id     INTEGER,
    src         TEXT NOT NULL,
    dest        TEXT NOT NULL,
    companions  TEXT NOT NULL DEFAULT '[]',
    undo_of     INTEGER REFERENCES rename_journal (id),
    template    TEXT,
    reason      TEXT,
    created_at  REAL NOT NULL,
    finished_at REAL,
    detail      TEXT
);
CREATE INDEX rename_journal_state ON rename_journal (state, kind);
CREATE INDEX rename_journal_job ON rename_journal (job_id);
CREATE INDEX rename_journal_dest ON rename_journal (dest);
CREATE INDEX rename_journal_file ON rename_journal (file_id);

-- Same-stem images (RAW + JPEG) left to be filed by their own jobs under the stem a move chose.
CREATE TABLE rename_partners (
    move_id  INTEGER NOT NULL REFERENCES rename_journal (id) ON DELETE CASCADE,
    path     TEXT NOT NULL
);
CREATE INDEX rename_partners_path ON rename_partners (path);
