-- Image embeddings (written by the tag stage's recorder, read by dedup and `similar`/`search`),
-- and the cache of text embeddings per (model, vocabulary, templates).
CREATE TABLE embeddings (
    file_id  INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    model    TEXT NOT NULL,
    dim      INTEGER NOT NULL,
    vector   BLOB NOT NULL
);
CREATE INDEX embeddings_model ON embeddings (model);

CREATE TABLE text_embeddings (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at REAL NOT NULL
);
