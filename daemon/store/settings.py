"""Small persistent engine state (paused, cached facts) as key/value rows.

Pause lives here so that it survives a restart.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from daemon.store.connection import transaction


def get(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def put(conn: sqlite3.Connection, key: str, value: str) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def recent_errors(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT at, event, path, detail FROM events WHERE level = 'error' ORDER BY id DESC LIMIT ?", (limit,)
    )
    return [dict(row) for row in rows]
