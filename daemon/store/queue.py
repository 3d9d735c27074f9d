"""The job queue: idempotent enqueue, leased claims, and stage completion in one transaction.

A job is one version (fingerprint) of one file moving through the stages; SQLite is the queue.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daemon.store.connection import transaction

ACTIVE_STATES = ("queued", "running", "waiting")
JOB_STATES = ("queued", "running", "done", "failed", "waiting")
MAX_CLAIMS = 10  # the engine died this many times while working on a file at one stage: the file fails
# Stages that rewrite the file in place. A job the engine died in there may have rewritten it already (the write
# landed, its record did not): a change seen before the job runs again waits for it, as one seen while it runs does.
REWRITING_STAGES = ("metadata",)


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    inode: int

    @property
    def fingerprint(self) -> str:
        return f"{self.size}-{self.mtime_ns}"


@dataclass
class Job:
    id: int
    file_id: int
    path: str
    root: str
    fingerprint: str
    stage: str
    attempts: int
    claims: int
    lease_owner: str
    touched: int = 0  # deaths of the engine while a stage worked on this file, before this claim
    began: bool = True  # a death now counts against the file (a claim starts so; see `set_aside` and `begin`)


# Writes a stage's typed result into its own tables, inside the completion transaction (each stage's `record`).
Recorder = Callable[[sqlite3.Connection, Job, dict[str, Any]], None]


def enqueue(
    conn: sqlite3.Connection,
    path: str,
    root: str,
    stat: FileStat,
    first_stage: str,
    content_sha256: str | None = None,
    now: float | None = None,
    restat: bool = False,
) -> str:
    """Record that `path` exists with `stat`; queue a job when it is new or changed.

    Returns what happened: new, changed, unchanged, moved, deferred (a job is running; it rechecks
    after), or doubt (same size, other mtime, and a known hash: call again with content_sha256).
    With `restat`, the file is looked at again under the write lock, so no stage can record its own write
    between that look and the comparison: gone when it has left, unsettled when it is no longer `stat`.
    """
    now = time.time() if now is None else now
    with transaction(conn):
        if restat:
            looked = look_again(path, stat)
            if looked is not None:
                return looked
        row = conn.execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return _enqueue_new_path(conn, path, root, stat, first_stage, now)
        return _enqueue_known_path(conn, row, root, stat, first_stage, content_sha256, now)


def look_again(path: str, stat: FileStat) -> str | None:
    """Gone or unsettled when the file is no longer what `stat` says; None when it still is."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return "gone"
    if FileStat(info.st_size, info.st_mtime_ns, info.st_ino) != stat:
        return "unsettled"
    return None


def _enqueue_new_path(
    conn: sqlite3.Connection, path: str, root: str, stat: FileStat, first_stage: str, now: float
) -> str:
    """A path the store does not know: a move we saw only one end of ("moved"), or a new file ("new")."""
    candidates = conn.execute(
        "SELECT id, path, present FROM files WHERE inode = ? AND size = ? AND mtime_ns = ?",
        (stat.inode, stat.size, stat.mtime_ns),
    ).fetchall()
    # The same file (inode, size, mtime) whose old path is gone: a move we saw only one end of.
    moved = next((c for c in candidates if not c["present"] or not os.path.lexists(c["path"])), None)
    if moved is not None:
        conn.execute(
            "UPDATE files SET path = ?, root = ?, present = 1, last_seen = ? WHERE id = ?",
            (path, root, now, moved["id"]),
        )
        return "moved"
    file_id = conn.execute(
        "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (path, root, stat.size, stat.mtime_ns, stat.inode, now, now),
    ).fetchone()[0]
    _insert_job(conn, file_id, stat.fingerprint, first_stage, now)
    return "new"


def _enqueue_known_path(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    root: str,
    stat: FileStat,
    first_stage: str,
    content_sha256: str | None,
    now: float,
) -> str:
    """A path the store knows: unchanged, doubt, deferred (its job runs, or died rewriting it), or changed (a new
    job)."""
    file_id = row["id"]
    same = row["size"] == stat.size and row["mtime_ns"] == stat.mtime_ns
    if not same and row["size"] == stat.size and row["sha256"] and content_sha256 is None:
        return "doubt"
    if not same and content_sha256 is not None and content_sha256 == row["sha256"]:
        same = True
    conn.execute(
        "UPDATE files SET size = ?, mtime_ns = ?, inode = ?, present = 1, root = ?, last_seen = ? WHERE id = ?",
        (stat.size, stat.mtime_ns, stat.inode, root, now, file_id),
    )
    if same:
        has_job = conn.execute(
            "SELECT 1 FROM jobs WHERE file_id = ? AND state != 'superseded' LIMIT 1", (file_id,)
        ).fetchone()
        if has_job:
            return "unchanged"
        _insert_job(conn, file_id, stat.fingerprint, first_stage, now)
        return "new"
    marks = ",".join("?" * len(REWRITING_STAGES))
    running = conn.execute(
        "SELECT 1 FROM jobs WHERE file_id = ? AND (state = 'running' OR (state IN ('queued', 'waiting')"
        f" AND stage IN ({marks}) AND touched > 0))",
        (file_id, *REWRITING_STAGES),
    ).fetchone()
    if running:
        conn.execute("UPDATE files SET dirty = 1 WHERE id = ?", (file_id,))
        return "deferred"
    conn.execute(
        "UPDATE jobs SET state = 'superseded', updated_at = ? WHERE file_id = ? AND state IN ('queued', 'waiting')",
        (now, file_id),
    )
    conn.execute("UPDATE files SET sha256 = NULL WHERE id = ?", (file_id,))
    _insert_job(conn, file_id, stat.fingerprint, first_stage, now)
    return "changed"


def _insert_job(conn: sqlite3.Connection, file_id: int, fingerprint: str, stage: str, now: float) -> None:
    conn.execute(
        "INSERT INTO jobs (file_id, fingerprint, stage, state, created_at, updated_at)"
        " VALUES (?, ?, ?, 'queued', ?, ?)"
        " ON CONFLICT (file_id, fingerprint) DO UPDATE SET stage = excluded.stage, state = 'queued',"
        " attempts = 0, claims = 0, touched = 0, error = NULL, wait_reason = NULL, not_before = 0,"
        " updated_at = excluded.updated_at, finished_at = NULL",
        (file_id, fingerprint, stage, now, now),
    )


def claim(
    conn: sqlite3.Connection, owner: str, stages: list[str], limit: int, lease_seconds: float, now: float | None = None
) -> list[Job]:
    """Lease up to `limit` runnable jobs at any of `stages`, oldest first; expired leases are taken over.

    Each kind of candidate is read from an index in the order it is wanted, so a claim costs the same with
    10 or 1,000,000 jobs queued (one query with OR and ORDER BY id sorted the whole backlog every time).
    """
    now = time.time() if now is None else now
    with transaction(conn):
        candidates: set[int] = set()
        for stage in stages:
            for sql in _CANDIDATES:
                candidates.update(row[0] for row in conn.execute(sql, (stage, now, limit)))
        chosen = sorted(candidates)[:limit]
        if not chosen:
            return []
        marks = ",".join("?" for _ in chosen)
        rows = conn.execute(
            f"UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, claims = claims + 1,"
            f" touched = touched + 1, wait_reason = NULL, updated_at = ? WHERE id IN ({marks})"
            f" RETURNING id, file_id, fingerprint, stage, attempts, claims, touched",
            (owner, now + lease_seconds, now, *chosen),
        ).fetchall()
        jobs = []
        for row in rows:
            file = conn.execute("SELECT path, root FROM files WHERE id = ?", (row["file_id"],)).fetchone()
            jobs.append(
                Job(
                    row["id"],
                    row["file_id"],
                    file["path"],
                    file["root"],
                    row["fingerprint"],
                    row["stage"],
                    row["attempts"],
                    row["claims"],
                    owner,
                    row["touched"] - 1,  # this claim's own mark is not a death (yet)
                )
            )
    jobs.sort(key=lambda job: job.id)
    return jobs


# (stage, now, limit) -> job ids. Fresh jobs walk jobs_order in id order (back-off retries are few and skipped);
# parked jobs come by the time they may run again; running jobs are few, and only expired leases are taken.
_CANDIDATES = (
    "SELECT id FROM jobs INDEXED BY jobs_order WHERE state = 'queued' AND stage = ?1 AND not_before <= ?2"
    " ORDER BY id LIMIT ?3",
    "SELECT id FROM jobs INDEXED BY jobs_waiting WHERE state = 'waiting' AND stage = ?1 AND not_before <= ?2"
    " ORDER BY not_before LIMIT ?3",
    "SELECT id FROM jobs INDEXED BY jobs_order WHERE state = 'running' AND stage = ?1 AND lease_until < ?2 LIMIT ?3",
)


def set_aside(conn: sqlite3.Connection, jobs: list[Job]) -> None:
    """The stage must get ready before it touches these files (load a model, start a tool): until `begin`, a
    death of the engine is not the files' fault. (A claim counts a death from the start: most stages are ready,
    and that costs no write.)"""
    _mark(conn, [job for job in jobs if job.began], -1)


def begin(conn: sqlite3.Connection, jobs: list[Job]) -> None:
    """The stage is ready and works on these files now: from here until the claim ends, a death counts."""
    _mark(conn, [job for job in jobs if not job.began], +1)


def _mark(conn: sqlite3.Connection, jobs: list[Job], step: int) -> None:
    if not jobs:
        return
    with transaction(conn):
        for job in jobs:
            conn.execute(
                "UPDATE jobs SET touched = touched + ? WHERE id = ? AND state = 'running' AND lease_owner = ?",
                (step, job.id, job.lease_owner),
            )
            job.began = step > 0


def _ended(job: Job) -> int:
    """What a claim that ended with an outcome takes back from `touched` (its own mark, not earlier deaths)."""
    began, job.began = job.began, False
    return int(began)


def complete(
    conn: sqlite3.Connection,
    job: Job,
    data: dict[str, Any],
    ms: float,
    next_stage: str | None,
    lease_seconds: float,
    now: float | None = None,
    keep: bool = True,
    record: Recorder | None = None,
) -> bool:
    """Record the stage's result and advance the job, atomically; False if the lease was lost.

    `keep`: the same worker runs the next stage (lease renewed); otherwise the job is queued for its pool.
    `record`: the stage's own writer of its typed tables, run in the same transaction.
    """
    now = time.time() if now is None else now
    with transaction(conn):
        if not _holds_lease(conn, job):
            return False
        conn.execute(
            "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (file_id, stage) DO UPDATE SET job_id = excluded.job_id, data = excluded.data,"
            " ms = excluded.ms, recorded_at = excluded.recorded_at",
            (job.file_id, job.stage, job.id, json.dumps(_public(data), default=str), ms, now),
        )
        if record is not None:
            record(conn, job, data)
        _stage_run(conn, job, "ok", ms, now)
        if next_stage is None:
            conn.execute(
                "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, error = NULL, touched = 0,"
                " updated_at = ?, finished_at = ? WHERE id = ?",
                (now, now, job.id),
            )
        elif keep:  # claims and deaths count at the current stage: each stage starts afresh, claimed
            conn.execute(
                "UPDATE jobs SET stage = ?, lease_until = ?, claims = 1, touched = 1, updated_at = ? WHERE id = ?",
                (next_stage, now + lease_seconds, now, job.id),
            )
            job.stage, job.claims, job.touched, job.began = next_stage, 1, 0, True
        else:
            conn.execute(
                "UPDATE jobs SET stage = ?, state = 'queued', lease_owner = NULL, lease_until = NULL, claims = 0,"
                " touched = 0, updated_at = ? WHERE id = ?",
                (next_stage, now, job.id),
            )
            job.stage, job.began = next_stage, False
    return True


def fail(
    conn: sqlite3.Connection,
    job: Job,
    error: str,
    *,
    permanent: bool,
    max_attempts: int,
    backoff_seconds: float,
    ms: float = 0.0,
    now: float | None = None,
) -> str:
    """Count a failed attempt; returns 'failed' or 'retry' (queued again after back-off)."""
    now = time.time() if now is None else now
    with transaction(conn):
        if not _holds_lease(conn, job):
            return "lost"
        attempts = job.attempts + 1
        _stage_run(conn, job, "error", ms, now)
        ended = _ended(job)
        if permanent or attempts >= max_attempts:
            conn.execute(
                "UPDATE jobs SET state = 'failed', attempts = ?, error = ?, permanent = ?, lease_owner = NULL,"
                " lease_until = NULL, touched = touched - ?, updated_at = ?, finished_at = ? WHERE id = ?",
                (attempts, error, int(permanent), ended, now, now, job.id),
            )
            _event(conn, now, "error", "job_failed", job.path, f"{job.stage}: {error}")
            return "failed"
        delay = backoff_seconds * (2 ** (attempts - 1))
        conn.execute(
            "UPDATE jobs SET state = 'queued', attempts = ?, error = ?, not_before = ?, lease_owner = NULL,"
            " lease_until = NULL, touched = touched - ?, updated_at = ? WHERE id = ?",
            (attempts, error, now + delay, ended, now, job.id),
        )
        return "retry"


def gone(conn: sqlite3.Connection, job: Job, reason: str, ms: float = 0.0, now: float | None = None) -> bool:
    """The file left its path before its job could finish: it is missing now, and the job has nothing to do."""
    now = time.time() if now is None else now
    with transaction(conn):
        if not _holds_lease(conn, job):
            return False
        _stage_run(conn, job, "gone", ms, now)
        conn.execute("UPDATE files SET present = 0 WHERE id = ?", (job.file_id,))
        conn.execute(
            "UPDATE jobs SET state = 'superseded', error = ?, lease_owner = NULL, lease_until = NULL,"
            " updated_at = ?, finished_at = ? WHERE id = ?",
            (reason, now, now, job.id),
        )
    return True


def wait(conn: sqlite3.Connection, job: Job, reason: str, retry_after: float, now: float | None = None) -> bool:
    """Park a job for a cause outside the file; it is claimable again after `retry_after`."""
    now = time.time() if now is None else now
    with transaction(conn):
        if not _holds_lease(conn, job):
            return False
        conn.execute(
            "UPDATE jobs SET state = 'waiting', wait_reason = ?, not_before = ?, claims = MAX(claims - 1, 0),"
            " touched = touched - ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
            (reason, now + retry_after, _ended(job), now, job.id),
        )
    return True


def mark_stage_waiting(
    conn: sqlite3.Connection, stage: str, reason: str, retry_after: float, now: float | None = None
) -> int:
    """Say why nothing runs at `stage` (model missing, quiet hours): its queued jobs go waiting."""
    now = time.time() if now is None else now
    with transaction(conn):
        return conn.execute(
            "UPDATE jobs SET state = 'waiting', wait_reason = ?, not_before = ?, updated_at = ?"
            " WHERE stage = ? AND (state = 'queued' OR (state = 'waiting' AND wait_reason IS NOT ?))",
            (reason, now + retry_after, now, stage, reason),
        ).rowcount


def release(conn: sqlite3.Connection, job: Job, now: float | None = None) -> None:
    """Give a claimed job back untouched (shutdown): it resumes at its current stage."""
    now = time.time() if now is None else now
    with transaction(conn):
        if _holds_lease(conn, job):
            conn.execute(
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,"
                " claims = MAX(claims - 1, 0), touched = touched - ?, updated_at = ? WHERE id = ?",
                (_ended(job), now, job.id),
            )


def recover_orphans(conn: sqlite3.Connection, now: float | None = None) -> int:
    """At start-up (the run lock says no other engine lives): jobs left running by a killed process resume."""
    now = time.time() if now is None else now
    with transaction(conn):
        return conn.execute(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ?"
            " WHERE state = 'running'",
            (now,),
        ).rowcount


def take_dirty(conn: sqlite3.Connection, file_id: int) -> str | None:
    """If the file changed while its job ran, clear the mark and return its path to re-check."""
    with transaction(conn):
        row = conn.execute("SELECT path FROM files WHERE id = ? AND dirty = 1", (file_id,)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE files SET dirty = 0 WHERE id = ?", (file_id,))
        return row["path"]


def retry_failed(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Queue every failed job again from the stage it failed at (user asked, or the schedule)."""
    now = time.time() if now is None else now
    with transaction(conn):
        return conn.execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, claims = 0, touched = 0, not_before = 0,"
            " updated_at = ? WHERE state = 'failed'",
            (now,),
        ).rowcount


def retry_crash_failures(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Jobs failed because the engine kept dying while working on them are queued again (the engine has run
    cleanly for a while since: the deaths may not have been the file's fault after all)."""
    now = time.time() if now is None else now
    with transaction(conn):
        return conn.execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, claims = 0, touched = 0, not_before = 0, error = NULL,"
            " permanent = 0, finished_at = NULL, updated_at = ? WHERE state = 'failed' AND touched >= ?",
            (now, MAX_CLAIMS),
        ).rowcount


def active_job_of(conn: sqlite3.Connection, path: str) -> int | None:
    """The id of the job queued, running or waiting for the file at `path` (for log lines), or None."""
    row = conn.execute(
        "SELECT jobs.id FROM files JOIN jobs ON jobs.file_id = files.id WHERE files.path = ?"
        " AND jobs.state IN ('queued', 'running', 'waiting') ORDER BY jobs.id DESC LIMIT 1",
        (path,),
    ).fetchone()
    return None if row is None else row[0]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    result = dict.fromkeys(JOB_STATES, 0)
    for row in conn.execute("SELECT state, COUNT(*) FROM jobs WHERE state != 'superseded' GROUP BY state"):
        result[row[0]] = row[1]
    return result


def count_active(conn: sqlite3.Connection, stages: list[str], cap: int, states: tuple[str, ...] = ACTIVE_STATES) -> int:
    """Jobs in `states` (queued, running or waiting) at any of `stages`, counted up to `cap` (each count reads an
    index range)."""
    total = 0
    for stage in stages:
        for state in states:
            total += conn.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_order WHERE state = ? AND stage = ? LIMIT ?)",
                (state, stage, cap - total),
            ).fetchone()[0]
            if total >= cap:
                return total
    return total


def stage_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for row in conn.execute(
        "SELECT stage, state, COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'waiting') GROUP BY stage, state"
    ):
        result.setdefault(row[0], {})[row[1]] = row[2]
    return result


def list_jobs(conn: sqlite3.Connection, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    sql = (
        "SELECT jobs.id, files.path, jobs.stage, jobs.state, jobs.attempts, jobs.error, jobs.wait_reason,"
        " jobs.created_at, jobs.updated_at, jobs.finished_at, media.taken, media.taken_source, media.taken_note"
        " FROM jobs JOIN files ON files.id = jobs.file_id LEFT JOIN media ON media.file_id = jobs.file_id"
        " WHERE jobs.state != 'superseded'"
    )
    params: list[Any] = []
    if state:
        sql += " AND jobs.state = ?"
        params.append(state)
    sql += " ORDER BY jobs.updated_at DESC, jobs.id DESC LIMIT ?"
    params.append(limit)
    return [dict(row) for row in conn.execute(sql, params)]


def _public(data: dict[str, Any]) -> dict[str, Any]:
    """Keys starting with "_" (e.g. the tag stage's embedding array) reach the recorder but not the results JSON."""
    return {key: value for key, value in data.items() if not key.startswith("_")}


def _holds_lease(conn: sqlite3.Connection, job: Job) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?", (job.id, job.lease_owner)
        ).fetchone()
        is not None
    )


def _stage_run(conn: sqlite3.Connection, job: Job, outcome: str, ms: float, now: float) -> None:
    conn.execute(
        "INSERT INTO stage_runs (job_id, stage, attempt, outcome, ms, at) VALUES (?, ?, ?, ?, ?, ?)",
        (job.id, job.stage, job.attempts + 1, outcome, ms, now),
    )


def _event(conn: sqlite3.Connection, now: float, level: str, event: str, path: str | None, detail: str) -> None:
    conn.execute(
        "INSERT INTO events (at, level, event, path, detail) VALUES (?, ?, ?, ?, ?)", (now, level, event, path, detail)
    )
