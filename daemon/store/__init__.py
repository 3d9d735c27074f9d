"""All SQL lives in this package: connection, migrations, the job queue and the typed result tables.

`Store` hands each thread its own connection to one database file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

from daemon.store.connection import connect, transaction
from daemon.store.schema import migrate

__all__ = ["Store", "transaction"]


class Store:
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        migrate(self.conn)

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def release_thread(self) -> None:
        """Close this thread's connection (short-lived threads, e.g. one per control request)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
