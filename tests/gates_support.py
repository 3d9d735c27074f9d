"""A small real pipeline for gate tests: a light and a heavy test stage, a real SQLite queue with three files,
and a real StageWorker thread (shared by test_gpu and test_schedule)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from daemon.config import Config
from daemon.pipeline import Gate, Pipeline
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, queue
from tests.support import wait_for


class Probe(Stage):
    """Light: runs whatever the gates say."""

    name = "probe"

    def run(self, item: WorkItem) -> dict[str, Any]:
        return {"size": item.path.stat().st_size}


class Crunch(Stage):
    """Heavy: runs only when the gates allow."""

    name, heavy = "crunch", True

    def run(self, item: WorkItem) -> dict[str, Any]:
        return {"crunched": item.result("probe")["size"]}


class Rig:
    def __init__(self, store: Store, paths: list[str]):
        self.store = store
        self.paths = paths

    def by_state(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for job in queue.list_jobs(self.store.conn):
            grouped.setdefault(job["state"], []).append(job)
        return grouped

    def all_in(self, state: str, message: str) -> list[dict[str, Any]]:
        return wait_for(
            lambda: len(self.by_state().get(state, [])) == len(self.paths) and self.by_state()[state],
            30,
            message=message,
        )


@contextmanager
def heavy_pipeline(tmp_path: Path, gates: list[Gate]) -> Iterator[Rig]:
    """Three queued files flowing probe (light) -> crunch (heavy) through a real worker thread."""
    store = Store(tmp_path / "data" / "engine.db")
    photos = tmp_path / "photos"
    photos.mkdir()
    paths = []
    for index in range(3):
        path = photos / f"{index}.jpg"
        path.write_bytes(b"x" * (100 + index))
        stat = path.stat()
        file_stat = queue.FileStat(stat.st_size, stat.st_mtime_ns, stat.st_ino)
        queue.enqueue(store.conn, str(path), str(photos), file_stat, "probe")
        paths.append(str(path))
    pipeline = Pipeline([Probe(), Crunch()], ReducedCache(tmp_path / "cache"), gates=gates)
    control = Control()
    config = Config(data_dir=tmp_path / "data")
    worker = StageWorker("cpu", 0, pipeline.stages, pipeline, store, config, control, recheck=lambda path: None)
    worker.start()
    try:
        yield Rig(store, paths)
    finally:
        control.stop.set()
        control.work_available.set()
        worker.join(timeout=5)
        store.close()
