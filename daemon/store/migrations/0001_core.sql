-- Files the engine knows, the job queue, and generic per-stage results.
CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    root        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    sha256      TEXT,
    present     INTEGER NOT NULL DEFAULT 1,
    dirty       INTEGER NOT NULL DEFAULT 0,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL
);
CREATE INDEX files_inode ON files (inode, size);
CREATE INDEX files_sha256 ON files (sha256);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    fingerprint  TEXT NOT NULL,
    stage        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'waiting', 'superseded')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    claims       INTEGER NOT NULL DEFAULT 0,
    not_before   REAL NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  REAL,
    error        TEXT,
    wait_reason  TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    finished_at  REAL
);
CREATE INDEX jobs_claim ON jobs (state, stage, not_before);
CREATE INDEX jobs_file ON jobs (file_id, state);
CREATE UNIQUE INDEX jobs_file_fingerprint ON jobs (file_id, fingerprint);

CREATE TABLE results (
    file_id     INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    job_id      INTEGER NOT NULL,
    data        TEXT NOT NULL,
    ms          REAL NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (file_id, stage)
);

CREATE TABLE stage_runs (
    job_id      INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    ms          REAL NOT NULL,
    at          REAL NOT NULL
);
CREATE INDEX stage_runs_job ON stage_runs (job_id);

CREATE TABLE media (
    file_id      INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    format       TEXT,
    width        INTEGER,
    height       INTEGER,
    orientation  INTEGER,
    taken        TEXT,
    taken_source TEXT,
    make         TEXT,
    model        TEXT,
    gps_lat      REAL,
    gps_lon      REAL,
    phash        INTEGER,
    dhash        INTEGER
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE events (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    level  TEXT NOT NULL,
    event  TEXT NOT NULL,
    path   TEXT,
    detail TEXT
);
