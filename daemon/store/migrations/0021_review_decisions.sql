-- The review app's decisions that outlive any later run.
-- A duplicate's fate chosen per photo ('keep': never trashed nor tagged as a duplicate; 'trash': filed under the
-- [dedup] folder through the rename journal, whatever the [dedup] action). The dedup result carries it as "choice".
CREATE TABLE dedup_choices (
    file_id     INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    choice      TEXT NOT NULL CHECK (choice IN ('keep', 'trash')),
    decided_at  REAL NOT NULL
);

-- Keyword rules from the Keywords page: a keyword renamed, merged into another or given as a synonym of another
-- ('map': later tagging records `target` instead), or excluded ('exclude': never recorded again, on any photo).
CREATE TABLE keyword_rules (
    keyword     TEXT PRIMARY KEY COLLATE NOCASE,
    kind        TEXT NOT NULL CHECK (kind IN ('map', 'exclude')),
    target      TEXT,
    decided_at  REAL NOT NULL
);
