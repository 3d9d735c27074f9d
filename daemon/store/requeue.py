"""Put files that finished back at the first stage: `image-engine undo --refile` files them again.

A file's newest job is reused (its fingerprint still matches the file: undo moves, it never rewrites).
"""

from __future__ import annotations

import sqlite3
import time

from daemon.store.connection import transaction


def requeue_files(conn: sqlite3.Connection, file_ids: list[int], stage: str, now: float | None = None) -> int:
    """Queue each file's newest finished job again at `stage`; returns how many were queued."""
    now = time.time() if now is None else now
    queued = 0
    with transaction(conn):
        for file_id in file_ids:
            queued += conn.execute(
                "UPDATE jobs SET stage = ?, state = 'queued', attempts = 0, claims = 0, error = NULL,"
                " wait_reason = NULL, not_before = 0, lease_owner = NULL, lease_until = NULL, finished_at = NULL,"
                " updated_at = ? WHERE id = (SELECT MAX(id) FROM jobs WHERE file_id = ? AND state != 'superseded')"
                " AND state IN ('done', 'failed')",
                (stage, now, file_id),
            ).rowcount
    return queued
