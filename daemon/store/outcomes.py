"""What became of a file, in words for the CLI: its latest job (failed where, and why) and photos left unfiled.

Read-only queries behind `tags`, `similar`, `jobs` and `status`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

NOT_FILED = "not filed: "
RECENT_JOBS = 2000


def latest_job(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """The file's newest job: id, state, stage, error, wait_reason (None when it never had one)."""
    row = conn.execute(
        "SELECT id, state, stage, error, wait_reason FROM jobs WHERE file_id = ? AND state != 'superseded'"
        " ORDER BY id DESC LIMIT 1",
        (file_id,),
    ).fetchone()
    return dict(row) if row else None


def not_filed_notes(conn: sqlite3.Connection, job_ids: list[int]) -> dict[int, str]:
    """For finished jobs whose rename stage left the photo where it was on purpose: job id -> the reason."""
    notes: dict[int, str] = {}
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for job_id, data in conn.execute(
            "SELECT jobs.id, results.data FROM jobs JOIN results ON results.file_id = jobs.file_id"
            f" AND results.stage = 'rename' AND results.job_id = jobs.id WHERE jobs.id IN ({marks})",
            chunk,
        ):
            reason = _not_filed(data)
            if reason:
                notes[job_id] = reason
    return notes


def sidecar_notes(conn: sqlite3.Connection, job_ids: list[int]) -> dict[int, str]:
    """For finished jobs whose keywords went to a sidecar because the photo's own metadata would not take them:
    job id -> where they went and why."""
    notes: dict[int, str] = {}
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for job_id, target, why in conn.execute(
            "SELECT jobs.id, json_extract(results.data, '$.target'), json_extract(results.data, '$.fallback')"
            " FROM jobs JOIN results ON results.file_id = jobs.file_id AND results.stage = 'metadata'"
            f" AND results.job_id = jobs.id WHERE jobs.id IN ({marks})"
            " AND json_extract(results.data, '$.fallback') IS NOT NULL",
            chunk,
        ):
            notes[job_id] = f"keywords written to the sidecar {target}: {why}"
    return notes


def recent_not_filed(conn: sqlite3.Connection, limit: int = 5, among: int = RECENT_JOBS) -> list[dict[str, Any]]:
    """Photos left unfiled on purpose (a copy of a photo already in the library) among the `among` newest
    finished jobs: path and reason. Bounded, because `status` (and the tray, every few seconds) asks: the newest
    jobs are read backwards by id (NOT INDEXED: through a state index SQLite would sort every done job first)."""
    found: list[dict[str, Any]] = []
    rows = conn.execute(
        "SELECT files.path, results.data"
        " FROM (SELECT id, file_id FROM jobs NOT INDEXED WHERE state = 'done' ORDER BY id DESC LIMIT ?) AS recent"
        " JOIN results ON results.file_id = recent.file_id AND results.stage = 'rename' AND results.job_id = recent.id"
        " JOIN files ON files.id = recent.file_id"
        " WHERE files.present = 1 AND results.data LIKE ? ORDER BY recent.id DESC LIMIT ?",
        (among, f'%"reason": "{NOT_FILED}%', limit),
    )
    for path, data in rows:
        reason = _not_filed(data)
        if reason:
            found.append({"path": path, "reason": reason})
    return found


def _not_filed(data: str) -> str | None:
    try:
        result = json.loads(data)
    except ValueError:
        return None
    reason = result.get("reason") or ""
    if result.get("deleted") or (not result.get("moved") and reason.startswith(NOT_FILED)):
        return reason
    return reason if "duplicate of" in reason else None
