"""The user's corrections of keywords (rejected, added): stored once, consulted by every writer of keywords.

A correction also lands in `results` under the pseudo-stage 'corrections', which the metadata stage reads like
any earlier stage's result; a finished job runs its metadata stage again so the file says what the user said.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from daemon.store.connection import transaction

STAGE = "corrections"
KINDS = {"reject": "reject_keyword", "add": "add_keyword"}
TEXT_KINDS = ("caption", "category")


def correct_keyword(
    conn: sqlite3.Connection, file_id: int, keyword: str, action: str, by: str = "user", rerun: str | None = None
) -> str:
    """Record that the user rejects or adds `keyword` on a file; returns "requeued" or "recorded".

    The latest word on a keyword wins (adding a rejected keyword takes the rejection back, and so on).
    With `rerun`, a finished job runs again from that stage (the metadata stage)."""
    with transaction(conn):
        return correct_keyword_within(conn, file_id, keyword, action, by, rerun)


def correct_keyword_within(
    conn: sqlite3.Connection, file_id: int, keyword: str, action: str, by: str = "user", rerun: str | None = None
) -> str:
    """`correct_keyword` inside the caller's transaction (the tag recorder applying a keyword rule)."""
    keyword = " ".join(keyword.split())
    if not keyword:
        raise ValueError("the keyword is empty")
    if action not in KINDS:
        raise ValueError(f"action must be reject or add, not {action!r}")
    now = time.time()
    if conn.execute("SELECT 1 FROM files WHERE id = ?", (file_id,)).fetchone() is None:
        raise LookupError(f"no file with id {file_id}")
    conn.execute(
        "DELETE FROM corrections WHERE file_id = ? AND kind IN ('reject_keyword', 'add_keyword')"
        " AND value = ? COLLATE NOCASE",
        (file_id, keyword),
    )
    conn.execute(
        "INSERT INTO corrections (file_id, kind, value, by, at) VALUES (?, ?, ?, ?, ?)",
        (file_id, KINDS[action], keyword, by, now),
    )
    if action == "reject":
        conn.execute("DELETE FROM keywords WHERE file_id = ? AND keyword = ? COLLATE NOCASE", (file_id, keyword))
    else:
        conn.execute(
            "DELETE FROM keywords WHERE file_id = ? AND keyword = ? COLLATE NOCASE AND source = 'user'",
            (file_id, keyword),
        )
        conn.execute(
            "INSERT INTO keywords (file_id, keyword, score, source, model) VALUES (?, ?, NULL, 'user', NULL)",
            (file_id, keyword),
        )
    return _publish(conn, file_id, rerun, now)


def set_text(
    conn: sqlite3.Connection, file_id: int, kind: str, text: str, by: str = "user", rerun: str | None = None
) -> str:
    """Record the user's caption or category for a file: written to the file, and no later tagging replaces it."""
    if kind not in TEXT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(TEXT_KINDS)}, not {kind!r}")
    text = text.strip() if kind == "caption" else " ".join(text.split())
    if not text:
        raise ValueError(f"the {kind} is empty")
    now = time.time()
    with transaction(conn):
        if conn.execute("SELECT 1 FROM files WHERE id = ?", (file_id,)).fetchone() is None:
            raise LookupError(f"no file with id {file_id}")
        conn.execute("DELETE FROM corrections WHERE file_id = ? AND kind = ?", (file_id, kind))
        conn.execute(
            "INSERT INTO corrections (file_id, kind, value, by, at) VALUES (?, ?, ?, ?, ?)",
            (file_id, kind, text, by, now),
        )
        return _publish(conn, file_id, rerun, now)


def _publish(conn: sqlite3.Connection, file_id: int, rerun: str | None, now: float) -> str:
    """The file's corrections as the pseudo-stage result the metadata stage reads; optionally run it again."""
    conn.execute(
        "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, ?, 0, ?, 0, ?)"
        " ON CONFLICT (file_id, stage) DO UPDATE SET data = excluded.data, recorded_at = excluded.recorded_at",
        (file_id, STAGE, json.dumps(_of_file(conn, file_id)), now),
    )
    return _rerun(conn, file_id, rerun, now) if rerun else "recorded"


def correct_everywhere(
    conn: sqlite3.Connection, keyword: str, replacement: str | None, rerun: str | None = None
) -> dict[str, Any]:
    """Reject `keyword` on every file that has it and, with `replacement`, add that one instead (rename / merge).

    Returns how many files were corrected and how many of them run their metadata stage again."""
    files = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT file_id FROM keywords WHERE keyword = ? COLLATE NOCASE ORDER BY file_id", (keyword,)
        )
    ]
    requeued = 0
    for file_id in files:
        outcome = correct_keyword(conn, file_id, keyword, "reject", rerun=None if replacement else rerun)
        if replacement:
            outcome = correct_keyword(conn, file_id, replacement, "add", rerun=rerun)
        requeued += outcome == "requeued"
    return {"files": len(files), "requeued": requeued, "file_ids": files}


def of_file(conn: sqlite3.Connection, file_id: int) -> dict[str, Any]:
    return _of_file(conn, file_id)


def rejected(conn: sqlite3.Connection, file_id: int) -> set[str]:
    """Case-folded keywords the user rejected on this file (the tag recorder leaves them out)."""
    return {
        row[0].casefold()
        for row in conn.execute(
            "SELECT value FROM corrections WHERE file_id = ? AND kind = 'reject_keyword'", (file_id,)
        )
    }


def history(conn: sqlite3.Connection, file_id: int) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in conn.execute(
            "SELECT kind, value, by, at FROM corrections WHERE file_id = ? ORDER BY at DESC", (file_id,)
        )
    ]


def _of_file(conn: sqlite3.Connection, file_id: int) -> dict[str, Any]:
    found: dict[str, Any] = {"rejected": [], "added": []}
    for kind, value in conn.execute("SELECT kind, value FROM corrections WHERE file_id = ? ORDER BY id", (file_id,)):
        if kind in TEXT_KINDS:
            found[kind] = value
        else:
            found["rejected" if kind == "reject_keyword" else "added"].append(value)
    return found


def _rerun(conn: sqlite3.Connection, file_id: int, stage: str, now: float) -> str:
    job = conn.execute(
        "SELECT id, state FROM jobs WHERE file_id = ? AND state != 'superseded' ORDER BY id DESC LIMIT 1", (file_id,)
    ).fetchone()
    if job is None or job[1] != "done":
        return "recorded"  # still in flight: its metadata stage reads the correction when it gets there
    conn.execute(
        "UPDATE jobs SET state = 'queued', stage = ?, attempts = 0, claims = 0, not_before = 0, error = NULL,"
        " wait_reason = NULL, lease_owner = NULL, lease_until = NULL, finished_at = NULL, updated_at = ?"
        " WHERE id = ?",
        (stage, now, job[0]),
    )
    return "requeued"
