-- What the metadata stage last wrote into each file (or its sidecar): fields, keywords, and the verification.
CREATE TABLE metadata_writes (
    file_id          INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    target           TEXT NOT NULL,
    sidecar          INTEGER NOT NULL,
    fields           TEXT NOT NULL,
    keywords         TEXT NOT NULL,
    engine_keywords  TEXT NOT NULL,
    verified         INTEGER NOT NULL,
    written_at       REAL NOT NULL
);
CREATE INDEX metadata_writes_target ON metadata_writes (target);
