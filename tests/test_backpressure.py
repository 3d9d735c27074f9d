"""A slow later stage holds the first stage back: the backlog stays queued instead of piling up in between."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import daemon.pipeline
from daemon.config import Config
from daemon.pipeline import Pipeline
from daemon.pipeline.base import WorkItem
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, queue
from tests.gates_support import Crunch, Probe
from tests.support import wait_for


class Tagger(Crunch):
    name, pool = "tag", "gpu"

    def run(self, item: WorkItem) -> dict[str, Any]:
        time.sleep(0.01)
        return super().run(item)


def at_stages(store: Store) -> dict[tuple[str, str], int]:
    rows = store.conn.execute("SELECT stage, state, COUNT(*) FROM jobs GROUP BY stage, state")
    return {(row[0], row[1]): row[2] for row in rows}


def test_the_first_stage_waits_while_later_stages_hold_the_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(daemon.pipeline, "AHEAD_MIN", 5)
    store = Store(tmp_path / "engine.db")
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(40):
        path = photos / f"{index}.jpg"
        path.write_bytes(b"x" * (100 + index))
        info = path.stat()
        queue.enqueue(
            store.conn, str(path), str(photos), queue.FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "probe"
        )
    pipeline = Pipeline([Probe(), Tagger()], ReducedCache(tmp_path / "cache"))
    assert pipeline.ahead_limit == 5
    control = Control()
    config = Config(data_dir=tmp_path)
    first = StageWorker("cpu", 0, [pipeline.stages[0]], pipeline, store, config, control, recheck=lambda p: None)
    later = StageWorker("gpu", 0, [pipeline.stages[1]], pipeline, store, config, control, recheck=lambda p: None)
    first.start()
    try:
        wait_for(lambda: at_stages(store).get(("tag", "queued")) == 5, message="five jobs pass probe")
        time.sleep(0.5)  # a non-event: the first stage would pass a sixth job within a few polls; it must not
        assert at_stages(store) == {("tag", "queued"): 5, ("probe", "queued"): 35}  # the rest wait, still queued
        later.start()
        most_ahead = 0
        while at_stages(store).get(("tag", "done"), 0) < 40:
            most_ahead = max(most_ahead, queue.count_active(store.conn, ["tag"], cap=100))
            time.sleep(0.005)
        assert most_ahead <= 5
        assert at_stages(store) == {("tag", "done"): 40}
    finally:
        control.stop.set()
        control.work_available.set()
        for worker in (first, later):
            if worker.is_alive():
                worker.join(timeout=5)
        store.close()


@pytest.mark.parametrize("batch", [1, 200])
def test_the_limit_fills_every_later_batch_a_few_times(batch: int) -> None:
    tagger = Tagger()
    tagger.batch_size = batch
    pipeline = Pipeline([Probe(), tagger], ReducedCache(Path("/nonexistent")))
    assert pipeline.ahead_limit == max(daemon.pipeline.AHEAD_MIN, 4 * batch)


def test_jobs_waiting_for_the_gpu_or_work_hours_do_not_stop_new_files_being_probed(tmp_path: Path, monkeypatch) -> None:
    """Waiting jobs are not work in flight: with the heavy stage shut, every new file still gets its probe."""
    monkeypatch.setattr(daemon.pipeline, "AHEAD_MIN", 5)
    store = Store(tmp_path / "engine.db")
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(20):
        path = photos / f"{index}.jpg"
        path.write_bytes(b"x" * (100 + index))
        info = path.stat()
        queue.enqueue(
            store.conn, str(path), str(photos), queue.FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "probe"
        )
    tagger = Tagger()
    tagger.heavy = True
    pipeline = Pipeline([Probe(), tagger], ReducedCache(tmp_path / "cache"))
    pipeline.gates.append(lambda stage: "the GPU is busy (a game)" if stage.heavy else None)
    control = Control()
    worker = StageWorker("cpu", 0, pipeline.stages, pipeline, store, Config(data_dir=tmp_path), control, lambda p: None)
    worker.start()
    try:
        wait_for(lambda: at_stages(store) == {("tag", "waiting"): 20}, 30, message="all 20 probed, waiting at tag")
    finally:
        control.stop.set()
        control.work_available.set()
        worker.join(timeout=5)
        store.close()
