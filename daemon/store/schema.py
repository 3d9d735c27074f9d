"""Schema migrations: numbered SQL files in store/migrations/, applied once each, in order.

Each feature owns its own file (0001_core.sql, 0002_tagging.sql, ...); the applied names are recorded.
"""

from __future__ import annotations

import sqlite3
import time
from importlib import resources

from daemon.store.connection import transaction


def migration_scripts() -> list[tuple[str, str]]:
    folder = resources.files("daemon.store") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def migrate(conn: sqlite3.Connection, before: str | None = None) -> list[str]:
    """Apply what is missing (only the scripts named before `before`, when given); returns the names applied now."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, script in migration_scripts():
        if name in done or (before is not None and name >= before):
            continue
        with transaction(conn):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
        applied.append(name)
    return applied


def _statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
