"""The metadata stage's record: the file's new stat (so the watcher's echo of our write is ignored) and a log row.

`MetadataStage.record` calls `record_metadata` inside the completion transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from daemon.store import files
from daemon.store.queue import FileStat

if TYPE_CHECKING:
    from daemon.store.queue import Job


def record_metadata(conn: sqlite3.Connection, job: Job, data: dict[str, Any]) -> None:
    stat = data.get("stat")
    if stat:
        files.record_own_write(conn, job.file_id, job.path, FileStat(stat["size"], stat["mtime_ns"], stat["inode"]))
    written = data.get("written")
    if not written and not (data.get("verified") and data.get("engine_keywords")):
        return
    # Up to date with the engine's keywords already in the file (written by a run killed before it could record
    # it): keep the record of the last real write, or make one if the crash left none.
    conflict = (
        "DO UPDATE SET target = excluded.target, sidecar = excluded.sidecar, fields = excluded.fields,"
        " keywords = excluded.keywords, engine_keywords = excluded.engine_keywords, verified = excluded.verified,"
        " written_at = excluded.written_at"
        if written
        else "DO NOTHING"
    )
    conn.execute(
        "INSERT INTO metadata_writes (file_id, target, sidecar, fields, keywords, engine_keywords, verified, written_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file_id) {conflict}",
        (
            job.file_id,
            data["target"],
            int(bool(data.get("sidecar"))),
            json.dumps(written or []),
            json.dumps(data.get("keywords", []), ensure_ascii=False),
            json.dumps(data.get("engine_keywords", []), ensure_ascii=False),
            int(bool(data.get("verified"))),
            time.time(),
        ),
    )


def last_write(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM metadata_writes WHERE file_id = ?", (file_id,)).fetchone()
    return dict(row) if row else None
