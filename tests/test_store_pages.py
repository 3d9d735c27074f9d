"""A new database gets the engine's smaller pages (fewer bytes per commit, issue 18); an existing one keeps its own.

Real SQLite files: one made by the store, one made by plain sqlite3 with SQLite's default pages before the engine.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from daemon.store import Store, queue
from daemon.store.connection import PAGE_SIZE
from daemon.store.queue import FileStat


def test_a_new_database_has_small_pages_and_an_old_one_keeps_its_own_and_works(tmp_path: Path) -> None:
    fresh = Store(tmp_path / "new.db")
    try:
        assert fresh.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 2048
    finally:
        fresh.close()

    old_path = tmp_path / "old.db"
    old = sqlite3.connect(old_path)
    old.execute("PRAGMA page_size = 4096")
    old.execute("PRAGMA journal_mode = WAL")
    old.execute("CREATE TABLE before_the_engine (x)")
    old.close()
    store = Store(old_path)  # migrations run on the old file
    try:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        photo = tmp_path / "a.jpg"
        photo.write_bytes(b"\xff\xd8")
        info = photo.stat()
        stat = FileStat(info.st_size, info.st_mtime_ns, info.st_ino)
        assert queue.enqueue(store.conn, str(photo), str(tmp_path), stat, "probe") == "new"
        assert queue.counts(store.conn)["queued"] == 1
    finally:
        store.close()
