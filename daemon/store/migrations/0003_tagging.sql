-- AI tagging (the tag stage): keywords per file with their score, source and hierarchy, and per-file
-- category, caption and image facts. Embeddings live in `embeddings` (0002).
CREATE TABLE keywords (
    file_id    INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    keyword    TEXT NOT NULL,
    score      REAL,
    source     TEXT NOT NULL DEFAULT 'auto',
    model      TEXT,
    hierarchy  TEXT,
    PRIMARY KEY (file_id, source, keyword)
);
CREATE INDEX keywords_keyword ON keywords (keyword COLLATE NOCASE);

CREATE TABLE tagging (
    file_id         INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    backend         TEXT NOT NULL,
    model           TEXT NOT NULL,
    category        TEXT,
    category_score  REAL,
    caption         TEXT,
    sharpness       REAL,
    blurry          INTEGER,
    exposure        TEXT,
    colours         TEXT,
    orientation     TEXT,
    tagged_at       REAL NOT NULL
);
CREATE INDEX tagging_category ON tagging (category);
