"""What a backfill asks of the store: how far the files under its folders are, by job state.

A file counts by its latest job (superseded versions are left out); files gone from disk are not counted.
"""

from __future__ import annotations

import os
import sqlite3

from daemon.store.files import path_range


def progress_under(conn: sqlite3.Connection, folders: list[str]) -> dict[str, int]:
    """{state: files} for the present files under `folders` (queued, running, waiting, done, failed)."""
    counts: dict[str, int] = {}
    for folder in folders:
        low, high = path_range(folder, os.sep)
        rows = conn.execute(
            "SELECT jobs.state, COUNT(*) FROM files JOIN jobs ON jobs.file_id = files.id"
            " WHERE files.path >= ? AND files.path < ? AND files.present = 1 AND jobs.state != 'superseded'"
            " AND jobs.id = (SELECT MAX(id) FROM jobs AS latest WHERE latest.file_id = files.id)"
            " GROUP BY jobs.state",
            (low, high),
        ).fetchall()
        for state, count in rows:
            counts[state] = counts.get(state, 0) + count
    return counts
