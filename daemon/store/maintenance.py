"""SQL behind the schedule: retrying failures of a passing kind with back-off, and nightly housekeeping
(prune old events and stage runs, refresh the planner's statistics, VACUUM when it is worth it).
"""

from __future__ import annotations

import sqlite3

from daemon.store.connection import transaction

# Scheduled retry rounds wait retry_failed_minutes * 2**round, at most 2**MAX_DOUBLINGS times the base.
MAX_DOUBLINGS = 6
# VACUUM rewrites the whole file and holds the write lock meanwhile: only when this share of pages is free.
VACUUM_MIN_FREE_SHARE = 0.1


def retry_passing_failures(conn: sqlite3.Connection, base_seconds: float, now: float) -> int:
    """Failed jobs whose error was of a passing kind (not `permanent`) and whose back-off has elapsed are
    queued again from the stage they failed at; the n-th round waits base * 2**n after the last failure."""
    with transaction(conn):
        return conn.execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, claims = 0, touched = 0, not_before = 0,"
            " scheduled_retries = scheduled_retries + 1, updated_at = ?"
            " WHERE state = 'failed' AND permanent = 0"
            " AND finished_at <= ? - ? * (1 << MIN(scheduled_retries, ?))"
            " AND file_id IN (SELECT id FROM files WHERE present = 1)",
            (now, now, base_seconds, MAX_DOUBLINGS),
        ).rowcount


def activity(conn: sqlite3.Connection) -> dict[str, int]:
    """Jobs running now, and jobs still to do (queued, running or waiting)."""
    row = conn.execute(
        "SELECT COALESCE(SUM(state = 'running'), 0), COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'waiting')"
    ).fetchone()
    return {"running": row[0], "active": row[1]}


def prune(conn: sqlite3.Connection, before: float) -> dict[str, int]:
    """Delete events and stage runs recorded before `before` (epoch seconds)."""
    with transaction(conn):
        events = conn.execute("DELETE FROM events WHERE at < ?", (before,)).rowcount
        # Stage runs are appended in time order: the old ones are the rows before the first one kept (no index on
        # `at`, which every recorded stage rewrote); a run a few ms out of order waits for the next night.
        kept = conn.execute("SELECT rowid FROM stage_runs WHERE at >= ? ORDER BY rowid LIMIT 1", (before,)).fetchone()
        end = (
            kept[0]
            if kept is not None
            else conn.execute("SELECT COALESCE(MAX(rowid), 0) + 1 FROM stage_runs").fetchone()[0]
        )
        runs = conn.execute("DELETE FROM stage_runs WHERE rowid < ? AND at < ?", (end, before)).rowcount
    return {"events": events, "stage_runs": runs}


def optimize(conn: sqlite3.Connection) -> None:
    """Merge the search index into one segment (a query opens every segment: after a big scan or an upgrade's
    backfill there are dozens, and the per-result highlight costs 3x more), then refresh the planner's statistics
    (bounded sampling keeps it quick on large tables)."""
    with transaction(conn):
        conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
    conn.execute("PRAGMA analysis_limit = 1000")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA optimize")


def free_share(conn: sqlite3.Connection) -> float:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return free / pages if pages else 0.0


def vacuum(conn: sqlite3.Connection) -> None:
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
