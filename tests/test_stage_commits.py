"""A pure stage's outcomes reach the store in one commit with the next stage's of the same worker (issue 18).

Real SQLite, real files, the real worker; the commits are counted from the statements the worker's connection runs.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.config import Config
from daemon.errors import PermanentError
from daemon.pipeline import Pipeline, gather, workers
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, queue
from daemon.store.queue import FileStat, Job


class Look(Stage):
    """Pure, like probe: reads the file's size; its recorder refuses the file named bad.jpg."""

    name, pure, batch_size = "probe", True, 8

    def run(self, item: WorkItem) -> dict[str, Any]:
        return {"size": item.path.stat().st_size}

    def record(self, conn: sqlite3.Connection, job: Job, result: dict[str, Any]) -> None:
        if job.path.endswith("bad.jpg"):
            raise sqlite3.IntegrityError("this file's record cannot be written")


class Sum(Stage):
    """The next stage of the same worker: reads the pure stage's result; fails the file named broken.jpg."""

    name = "hash"

    def run(self, item: WorkItem) -> dict[str, Any]:
        if item.path.name == "broken.jpg":
            raise PermanentError("cannot read this file")
        return {"double": 2 * item.result("probe")["size"]}


def queued(store: Store, folder: Path, names: list[str]) -> None:
    for name in names:
        photo = folder / name
        photo.write_bytes(b"\xff\xd8" + name.encode())
        info = photo.stat()
        queue.enqueue(
            store.conn, str(photo), str(folder), FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "probe"
        )


def worker_for(store: Store, tmp_path: Path, stages: list[Stage]) -> StageWorker:
    pipeline = Pipeline(stages, ReducedCache(tmp_path / "cache"))
    return StageWorker("cpu", 0, stages, pipeline, store, Config(data_dir=tmp_path), Control(), lambda p: None)


def by_name(store: Store, sql: str) -> dict[str, Any]:
    return {Path(row[0]).name: row[1] for row in store.conn.execute(sql)}


def test_a_pure_stage_and_the_next_one_are_recorded_in_one_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    queued(store, tmp_path, ["a.jpg", "b.jpg", "c.jpg", "broken.jpg"])
    worker = worker_for(store, tmp_path, [Look(), Sum()])
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        assert worker.tick()
        store.conn.set_trace_callback(None)
        assert statements.count("COMMIT") == 2  # the claim, then both stages' outcomes (was 3: one per stage)
        states = by_name(store, "SELECT path, state FROM jobs JOIN files ON files.id = file_id")
        assert states == {"a.jpg": "done", "b.jpg": "done", "c.jpg": "done", "broken.jpg": "failed"}
        recorded = store.conn.execute("SELECT stage, COUNT(*) FROM results GROUP BY stage ORDER BY stage").fetchall()
        assert [tuple(row) for row in recorded] == [("hash", 3), ("probe", 4)]
        runs = store.conn.execute("SELECT stage, outcome, COUNT(*) FROM stage_runs GROUP BY 1, 2 ORDER BY 1, 2")
        assert [tuple(row) for row in runs] == [("hash", "error", 1), ("hash", "ok", 3), ("probe", "ok", 4)]
        errors = by_name(store, "SELECT path, jobs.stage || ': ' || error FROM jobs JOIN files ON files.id = file_id")
        assert errors["broken.jpg"] == "hash: cannot read this file"
    finally:
        store.close()


def test_a_file_whose_pure_outcome_cannot_be_recorded_is_not_recorded_past_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    queued(store, tmp_path, ["a.jpg", "bad.jpg", "c.jpg"])
    worker = worker_for(store, tmp_path, [Look(), Sum()])
    try:
        with pytest.raises(sqlite3.IntegrityError):
            worker.tick()
        states = by_name(store, "SELECT path, jobs.stage || ' ' || state FROM jobs JOIN files ON files.id = file_id")
        assert states == {"a.jpg": "hash done", "bad.jpg": "probe running", "c.jpg": "hash done"}
        hashed = by_name(store, "SELECT path, data FROM results JOIN files ON files.id = file_id WHERE stage = 'hash'")
        assert sorted(hashed) == ["a.jpg", "c.jpg"]  # bad.jpg's hash was computed but never recorded past probe
        worker.release_unsettled()
        assert queue.counts(store.conn)["queued"] == 1  # given back at probe, where it starts again
    finally:
        store.close()


class Later(Stage):
    """A stage after the first, in a pool of its own, taking one file at a time (like dedup)."""

    name, pool = "later", "later"

    def run(self, item: WorkItem) -> dict[str, Any]:
        return {"seen": True}


def test_a_later_stage_waits_for_the_files_still_in_earlier_stages_then_claims_them_together(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    queued(store, tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    first, later = Look(), Later()
    pipeline = Pipeline([first, later], ReducedCache(tmp_path / "cache"))
    worker = StageWorker("later", 0, [later], pipeline, store, Config(data_dir=tmp_path), Control(), lambda p: None)
    worker.started -= workers.BATCH_AFTER_SECONDS  # as if the engine had run a while: claims come in batches

    def advance(count: int) -> None:  # the first stage's worker finishing `count` files
        for job in queue.claim(store.conn, "first", ["probe"], count, 60):
            queue.complete(store.conn, job, {"size": 1}, 1.0, "later", 60, keep=False)

    try:
        advance(1)
        rest = threading.Timer(0.3, advance, (2,))  # the other two arrive while the later worker waits
        rest.start()
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        assert worker.tick()
        store.conn.set_trace_callback(None)
        rest.join()
        assert statements.count("COMMIT") == 2  # one claim of all three and one record of them (was 2 + 2)
        assert queue.counts(store.conn)["done"] == 3

        queued(store, tmp_path, ["d.jpg"])
        advance(1)
        started = time.monotonic()
        assert worker.tick()  # nothing more on its way: no wait
        assert time.monotonic() - started < gather.GATHER_SECONDS / 2
        assert queue.counts(store.conn)["done"] == 4
    finally:
        store.close()
