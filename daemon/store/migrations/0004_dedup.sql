-- Duplicates: the evidence (links between files), the groups it forms with their keeper, the keeper's history,
-- and the user's "these are not duplicates" decisions, which survive restarts and rescans (keyed by file id).
CREATE TABLE dedup_links (
    a           INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    b           INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('exact', 'near')),
    phash       INTEGER,
    dhash       INTEGER,
    similarity  REAL,
    rotation    INTEGER NOT NULL DEFAULT 0,
    found_at    REAL NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE INDEX dedup_links_b ON dedup_links (b);

-- A group's id is the file id of its oldest member, so it does not change when copies arrive.
CREATE TABLE dedup_groups (
    id            INTEGER PRIMARY KEY,
    keeper        INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    keeper_reason TEXT NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);

CREATE TABLE dedup_members (
    file_id   INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    group_id  INTEGER NOT NULL REFERENCES dedup_groups (id) ON DELETE CASCADE
);
CREATE INDEX dedup_members_group ON dedup_members (group_id);

CREATE TABLE dedup_keeper_changes (
    id          INTEGER PRIMARY KEY,
    group_id    INTEGER NOT NULL,
    old_keeper  INTEGER,
    new_keeper  INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    at          REAL NOT NULL
);
CREATE INDEX dedup_keeper_changes_group ON dedup_keeper_changes (group_id);

CREATE TABLE dedup_distinct (
    a           INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    b           INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    decided_at  REAL NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE INDEX dedup_distinct_b ON dedup_distinct (b);
