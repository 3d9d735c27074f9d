"""What the store knows about one photo, for `image-engine jobs --trace PATH`: the file under every name it had
(the rename journal links them), its jobs, each stage run (and the reason its last result gives), its moves and stored events. Read-only queries.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def file_ids_for(conn: sqlite3.Connection, path: str) -> list[int]:
    """The files known at `path` now, or moved from or to it."""
    ids = [row[0] for row in conn.execute("SELECT id FROM files WHERE path = ?", (path,))]
    ids += [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT file_id FROM rename_journal WHERE file_id IS NOT NULL AND (src = ? OR dest = ?)",
            (path, path),
        )
    ]
    return sorted(set(ids))


def story(conn: sqlite3.Connection, path: str) -> dict[str, Any]:
    """Rows about the photo at (or once at) `path`; `paths` holds every name it had."""
    ids = file_ids_for(conn, path)
    marks = ",".join("?" for _ in ids)
    files = [dict(row) for row in conn.execute(f"SELECT * FROM files WHERE id IN ({marks})", ids)]
    jobs = [
        dict(row)
        for row in conn.execute(
            f"SELECT id, file_id, fingerprint, stage, state, attempts, error, wait_reason, created_at, updated_at,"
            f" finished_at FROM jobs WHERE file_id IN ({marks}) ORDER BY id",
            ids,
        )
    ]
    job_ids = [job["id"] for job in jobs]
    job_marks = ",".join("?" for _ in job_ids)
    runs = [
        dict(row)
        for row in conn.execute(
            f"SELECT job_id, stage, attempt, outcome, ms, at FROM stage_runs WHERE job_id IN ({job_marks}) ORDER BY at",
            job_ids,
        )
    ]
    results = [
        dict(row)
        for row in conn.execute(
            f"SELECT file_id, stage, job_id, json_extract(data, '$.reason') AS reason, recorded_at FROM results"
            f" WHERE file_id IN ({marks})",
            ids,
        )
    ]
    moves = [
        dict(row)
        for row in conn.execute(
            f"SELECT id, kind, state, job_id, src, dest, reason, created_at, finished_at, detail FROM rename_journal"
            f" WHERE file_id IN ({marks}) ORDER BY id",
            ids,
        )
    ]
    paths = sorted({path, *(f["path"] for f in files), *(m["src"] for m in moves), *(m["dest"] for m in moves)})
    path_marks = ",".join("?" for _ in paths)
    events = [
        dict(row)
        for row in conn.execute(
            f"SELECT at, level, event, path, detail FROM events WHERE path IN ({path_marks}) ORDER BY at", paths
        )
    ]
    return {
        "files": files,
        "jobs": jobs,
        "runs": runs,
        "results": results,
        "moves": moves,
        "events": events,
        "paths": paths,
    }
