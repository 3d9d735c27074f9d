-- Faces found in photos and the people they are grouped into (issue 15). A face's box is in the pixels of the
-- oriented full-size image; its embedding is float32 little-endian (NULL for a region read from the file that no
-- detected face matched). assigned_by says whose word put it in its person: 'user' and 'file' (names a user gave
-- in another program) are final, 'auto' (joined on arrival) and 'cluster' (re-clustering) are the engine's guesses.
-- removed = 1: the user took this face out of its person; it is never assigned again by the engine.
CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    name        TEXT COLLATE NOCASE,
    confirmed   INTEGER NOT NULL DEFAULT 0,
    source      TEXT NOT NULL DEFAULT 'cluster' CHECK (source IN ('cluster', 'user', 'file')),
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE UNIQUE INDEX people_name ON people (name) WHERE name IS NOT NULL;

CREATE TABLE faces (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    x            REAL NOT NULL,
    y            REAL NOT NULL,
    w            REAL NOT NULL,
    h            REAL NOT NULL,
    score        REAL,
    model        TEXT NOT NULL,
    embedding    BLOB,
    person_id    INTEGER REFERENCES people (id) ON DELETE SET NULL,
    assigned_by  TEXT CHECK (assigned_by IN ('auto', 'cluster', 'user', 'file')),
    removed      INTEGER NOT NULL DEFAULT 0,
    source       TEXT NOT NULL DEFAULT 'detected' CHECK (source IN ('detected', 'file')),
    created_at   REAL NOT NULL
);
CREATE INDEX faces_file ON faces (file_id);
CREATE INDEX faces_person ON faces (person_id);
