-- The user's word: keywords rejected or added, captions and categories edited in the review app (who/when/what).
-- Every writer of keywords consults it: the tag recorder never stores a rejected keyword again, and the
-- metadata stage removes rejected keywords from the file and writes added ones (see daemon/store/corrections.py).
CREATE TABLE corrections (
    id       INTEGER PRIMARY KEY,
    file_id  INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('reject_keyword', 'add_keyword', 'caption', 'category')),
    value    TEXT NOT NULL,
    by       TEXT NOT NULL,
    at       REAL NOT NULL
);
CREATE INDEX corrections_file ON corrections (file_id, kind);
