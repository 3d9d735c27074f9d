"""Open the engine's SQLite database the one way everything uses it.

WAL, a busy timeout and foreign keys are set here once; errors become StoreError with the path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.errors import StoreError

BUSY_TIMEOUT_MS = 30_000
# Threads of this process take turns at writing here: SQLite's own busy handler sleeps up to 100 ms between tries,
# which made the intake and the workers wait on each other at 100,000 queued files.
_WRITE_TURN = threading.RLock()
# Pages of WAL before SQLite copies them into the database (None: SQLite's 1,000). Set once by the engine for every
# connection it opens: one connection left at the default would checkpoint for all of them.
_settings: dict[str, int | None] = {"wal_autocheckpoint": None}
# Page size of a new database (an existing one keeps its own). A commit writes every page it touched whole, and the
# engine's commits touch many pages a little: 2 KB pages wrote ~20% fewer bytes per photo than SQLite's 4 KB
# (bench.writes, 300 photos; 1 KB pages ~30% fewer, but most result rows and embeddings would overflow them).
PAGE_SIZE = 2048


def set_wal_autocheckpoint(pages: int | None) -> None:
    _settings["wal_autocheckpoint"] = pages


def connect(path: Path, *, readonly: bool = False, wal_autocheckpoint: int | None = None) -> sqlite3.Connection:
    """A connection in autocommit mode; use `transaction()` for writes. `wal_autocheckpoint`: pages (None: SQLite's)."""
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before WAL: only a new, empty database takes it
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # Sorts, transient indexes and statement journals stay in memory: as temp files they were a third of
            # the engine's disk writes (short-lived /var/tmp/etilqs_* files, several per photo).
            conn.execute("PRAGMA temp_store = MEMORY")
            if wal_autocheckpoint is None:
                wal_autocheckpoint = _settings["wal_autocheckpoint"]
            if wal_autocheckpoint is not None:
                conn.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
                conn.execute(f"PRAGMA journal_size_limit = {max(int(wal_autocheckpoint), 1000) * 4096 * 2}")
        return conn
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Inside another transaction of the same connection
    (a batch of outcomes recorded together) it is a savepoint: its exception undoes only its own writes."""
    if conn.in_transaction:
        with _savepoint(conn):
            yield conn
        return
    with _WRITE_TURN:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"database busy or read-only: {exc}") from exc
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back by itself on SQLITE_FULL and friends
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"cannot commit to database: {exc}") from exc


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("SAVEPOINT part")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO part")
            conn.execute("RELEASE part")
        raise
    else:
        conn.execute("RELEASE part")


@contextmanager
def batch(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction for several writers' transactions (each a savepoint): their pages reach the WAL once."""
    with transaction(conn):
        yield conn
