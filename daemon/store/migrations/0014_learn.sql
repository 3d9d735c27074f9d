-- Taught keywords: the user's examples (label 1 = this photo is KEYWORD, 0 = it is not) and one classifier per
-- keyword on the stored image embeddings. Learned copies of a keyword live in `keywords` with source 'learned'.
CREATE TABLE taught_examples (
    keyword   TEXT NOT NULL COLLATE NOCASE,
    file_id   INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    label     INTEGER NOT NULL CHECK (label IN (0, 1)),
    added_at  REAL NOT NULL,
    PRIMARY KEY (keyword, file_id)
);
CREATE INDEX taught_examples_file ON taught_examples (file_id);

CREATE TABLE taught_keywords (
    keyword     TEXT PRIMARY KEY COLLATE NOCASE,
    model       TEXT,
    version     INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL CHECK (state IN ('training', 'ready', 'too_few', 'inconsistent', 'no_embeddings')),
    message     TEXT NOT NULL DEFAULT '',
    weights     BLOB,
    intercept   REAL,
    threshold   REAL,
    precision   REAL,
    recall      REAL,
    positives   INTEGER NOT NULL DEFAULT 0,
    negatives   INTEGER NOT NULL DEFAULT 0,
    would_tag   INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    trained_at  REAL
);
CREATE INDEX keywords_source ON keywords (source, keyword);
