"""Outcomes and intake are recorded a batch per transaction; one file that cannot be recorded fails nobody else.

Real SQLite, real files, the real worker and intake; the fault is a stage recorder that raises for one file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from daemon.config import Config
from daemon.pipeline import Pipeline
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, queue
from daemon.store.queue import FileStat, Job
from daemon.watch.intake import Intake
from tests.gates_support import Probe


class Recorded(Probe):
    """Probe whose recorder writes the file's id into `settings` and refuses the file named bad.jpg."""

    batch_size = 8

    def record(self, conn: sqlite3.Connection, job: Job, result: dict[str, Any]) -> None:
        conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (f"seen-{job.file_id}", "1"))
        if job.path.endswith("bad.jpg"):
            raise sqlite3.IntegrityError("this file's record cannot be written")


def stat_of(path: Path) -> FileStat:
    info = path.stat()
    return FileStat(info.st_size, info.st_mtime_ns, info.st_ino)


def test_a_file_whose_outcome_cannot_be_recorded_fails_alone_in_its_batch(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    names = ["a.jpg", "bad.jpg", "c.jpg", "d.jpg"]
    for name in names:
        photo = tmp_path / name
        photo.write_bytes(b"\xff\xd8" + name.encode())
        queue.enqueue(store.conn, str(photo), str(tmp_path), stat_of(photo), "probe")
    pipeline = Pipeline([Recorded()], ReducedCache(tmp_path / "cache"))
    worker = StageWorker(
        "cpu", 0, pipeline.stages, pipeline, store, Config(data_dir=tmp_path), Control(), lambda p: None
    )
    try:
        with pytest.raises(sqlite3.IntegrityError):
            worker.tick()  # one claim of all four, their outcomes in one transaction
        states = dict(store.conn.execute("SELECT files.path, jobs.state FROM jobs JOIN files ON files.id = file_id"))
        assert {Path(path).name: state for path, state in states.items()} == {
            "a.jpg": "done",
            "bad.jpg": "running",  # unsettled: given back at the next tick
            "c.jpg": "done",
            "d.jpg": "done",
        }
        seen = {row[0] for row in store.conn.execute("SELECT key FROM settings WHERE key LIKE 'seen-%'")}
        assert len(seen) == 3, "the refused file's own writes were undone, the others' kept"
        worker.release_unsettled()
        assert queue.counts(store.conn)["queued"] == 1
    finally:
        store.close()


def test_intake_queues_a_copy_in_one_transaction_and_a_file_that_fails_stays_pending_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
    folder = tmp_path / "drop"
    folder.mkdir()
    for index in range(30):
        (folder / f"{index:02d}.jpg").write_bytes(b"\xff\xd8" + bytes([index]))
    # The fault is SQLite's own: this one file's row cannot be inserted (as a constraint or an I/O error would).
    store.conn.execute(
        "CREATE TRIGGER refuse_07 BEFORE INSERT ON files WHEN NEW.path LIKE '%07.jpg'"
        " BEGIN SELECT RAISE(ABORT, 'this file cannot be recorded'); END"
    )
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        for path in sorted(folder.iterdir()):
            intake.submit(str(path), str(folder), closed=True)
        with pytest.raises(sqlite3.IntegrityError, match="this file cannot be recorded"):
            intake.settle_once()
        assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("COMMIT") == 1, "one transaction"
        assert queue.counts(store.conn)["queued"] == 29 and intake.pending_count() == 1
        store.conn.execute("DROP TRIGGER refuse_07")
        intake.settle_once()
        assert queue.counts(store.conn)["queued"] == 30 and intake.pending_count() == 0
    finally:
        store.conn.set_trace_callback(None)
        store.close()


def test_a_copy_is_queued_in_a_few_statements_not_a_few_per_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
    folder = tmp_path / "drop"
    folder.mkdir()
    for index in range(200):
        (folder / f"{index:03d}.jpg").write_bytes(b"\xff\xd8" + index.to_bytes(2, "big"))
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        for path in sorted(folder.iterdir()):
            intake.submit(str(path), str(folder), closed=True)
        intake.settle_once()
        assert queue.counts(store.conn)["queued"] == 200 and intake.pending_count() == 0
        assert len(statements) < 20, statements  # was 7 per file: a savepoint, two lookups, two inserts, a log query
        rows = store.conn.execute(
            "SELECT files.path, jobs.fingerprint, jobs.stage FROM jobs JOIN files ON files.id = jobs.file_id"
            " ORDER BY jobs.id"
        ).fetchall()
        assert [row[0] for row in rows] == [str(path) for path in sorted(folder.iterdir())]  # claimed in copy order
        assert all(row[1] == stat_of(Path(row[0])).fingerprint and row[2] == "probe" for row in rows)
    finally:
        store.conn.set_trace_callback(None)
        store.close()
