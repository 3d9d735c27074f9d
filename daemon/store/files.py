"""The files the engine knows: moves, disappearances, the engine's own writes, and listings for reconcile.

Own writes update the recorded stat so that the watcher's echo of them is recognised as unchanged.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from daemon.store.connection import transaction
from daemon.store.queue import FileStat


def moved(conn: sqlite3.Connection, src: str, dest: str, root: str) -> bool:
    """The user moved or renamed a known file: follow it without re-processing."""
    with transaction(conn):
        if conn.execute("SELECT 1 FROM files WHERE path = ?", (dest,)).fetchone():
            return False
        return (
            conn.execute(
                "UPDATE files SET path = ?, root = ?, last_seen = ? WHERE path = ?", (dest, root, time.time(), src)
            ).rowcount
            == 1
        )


def moved_folder(conn: sqlite3.Connection, src: str, dest: str, root: str, sep: str) -> int:
    """A folder was moved: rewrite the paths of every known file under it."""
    low, high = path_range(src, sep)
    with transaction(conn):
        rows = conn.execute("SELECT id, path FROM files WHERE path >= ? AND path < ?", (low, high)).fetchall()
        for row in rows:
            conn.execute(
                "UPDATE files SET path = ?, root = ? WHERE id = ?",
                (dest.rstrip(sep) + sep + row["path"][len(low) :], root, row["id"]),
            )
        return len(rows)


def mark_missing(conn: sqlite3.Connection, paths: list[str]) -> int:
    with transaction(conn):
        count = 0
        for path in paths:
            count += conn.execute("UPDATE files SET present = 0 WHERE path = ? AND present = 1", (path,)).rowcount
            conn.execute(
                "UPDATE jobs SET state = 'superseded' WHERE state IN ('queued', 'waiting') AND file_id ="
                " (SELECT id FROM files WHERE path = ?)",
                (path,),
            )
        return count


def record_own_write(conn: sqlite3.Connection, file_id: int, path: str, stat: FileStat) -> None:
    """The engine moved or rewrote this file: remember the result so its echo is ignored."""
    conn.execute(
        "UPDATE files SET path = ?, size = ?, mtime_ns = ?, inode = ?, present = 1, last_seen = ? WHERE id = ?",
        (path, stat.size, stat.mtime_ns, stat.inode, time.time(), file_id),
    )


def known_stat(conn: sqlite3.Connection, path: str) -> FileStat | None:
    row = conn.execute("SELECT size, mtime_ns, inode FROM files WHERE path = ? AND present = 1", (path,)).fetchone()
    return None if row is None else FileStat(row[0], row[1], row[2])


def path_range(folder: str, sep: str) -> tuple[str, str]:
    """[low, high): exactly the paths under `folder`, as a range the path index answers (no scan)."""
    low = folder.rstrip(sep) + sep
    return low, low[:-1] + chr(ord(sep) + 1)


def count_under(conn: sqlite3.Connection, folder: str, sep: str) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM files WHERE path >= ? AND path < ? AND present = 1", path_range(folder, sep)
    ).fetchone()[0]


def file_info(conn: sqlite3.Connection, path: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT files.*, media.* FROM files LEFT JOIN media ON media.file_id = files.id WHERE files.path = ?", (path,)
    ).fetchone()
    return dict(row) if row else None


def result_of(conn: sqlite3.Connection, file_id: int, stage: str) -> str | None:
    row = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = ?", (file_id, stage)).fetchone()
    return row[0] if row else None


def count_present(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM files WHERE present = 1").fetchone()[0]
