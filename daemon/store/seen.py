"""The paths one reconcile walk has met, kept in a temporary table of the walking thread's connection.

SQLite pages it to a temp file past its cache, so a walk of a million files holds a few MB; what was known
under the walked folder but not met is then read back in pages.
"""

from __future__ import annotations

import sqlite3

from daemon.store.files import path_range

BATCH = 1000


class SeenPaths:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.batch: list[tuple[str]] = []
        conn.execute("PRAGMA temp_store = FILE")  # a walk's table may outgrow memory (connections keep temp in memory)
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS scan_seen (path TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.scan_seen")

    def add(self, path: str) -> None:
        self.batch.append((path,))
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO temp.scan_seen (path) VALUES (?)", self.batch)
        self.batch = []

    def unseen_under(self, folder: str, sep: str, after: str = "") -> list[str]:
        """The next page (by path, after `after`) of present files under `folder` that the walk did not meet."""
        self.flush()
        low, high = path_range(folder, sep)
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT path FROM files WHERE path >= ? AND path < ? AND path > ? AND present = 1"
                " AND path NOT IN (SELECT path FROM temp.scan_seen) ORDER BY path LIMIT ?",
                (low, high, after, BATCH),
            )
        ]

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.scan_seen")
        self.conn.execute("PRAGMA temp_store = MEMORY")
