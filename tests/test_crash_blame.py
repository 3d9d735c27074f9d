"""Engine deaths are blamed on a file only when a stage was working on it, and such a failure comes back by
itself after a clean run. Real store, real worker, real probe and hash stages on a corpus photo; a death is the
start-up recovery of a job a killed engine left running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.config import Config, EngineConfig
from daemon.pipeline import Pipeline
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.crash_retry import CrashRetry
from daemon.pipeline.hashing import HashStage
from daemon.pipeline.probe import ProbeStage
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, queue
from daemon.store.queue import FileStat
from tests.metadata_support import copy


def setup(tmp_path: Path) -> tuple[Store, StageWorker, Config]:
    store = Store(tmp_path / "engine.db")
    photo = copy("labelled/felix_608.jpg", tmp_path / "drop")
    info = photo.stat()
    queue.enqueue(
        store.conn, str(photo), str(photo.parent), FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "probe"
    )
    config = Config(data_dir=tmp_path / "data", engine=EngineConfig(crash_retry_minutes=15))
    cache = ReducedCache(tmp_path / "cache")
    pipeline = Pipeline([ProbeStage(384, 10**8, cache), HashStage()], cache)
    worker = StageWorker("cpu", 0, pipeline.stages, pipeline, store, config, Control(), recheck=lambda _: None)
    return store, worker, config


def state(store: Store) -> tuple[str, str | None]:
    return tuple(store.conn.execute("SELECT state, error FROM jobs").fetchone())  # type: ignore[return-value]


def test_deaths_before_the_stage_touched_the_file_never_fail_it(tmp_path: Path) -> None:
    """Seen with kill -9 every 1.5-3 s: the engine died while the tagging model loaded, ten times, and a good
    JPEG ended failed with "the worker stopped 10 times while processing this file"."""
    store, worker, _ = setup(tmp_path)
    for _ in range(3 * queue.MAX_CLAIMS):
        jobs = queue.claim(store.conn, "killed-engine", ["probe"], 1, 300)
        queue.set_aside(store.conn, jobs)  # what the worker does while its stage loads a model ...
        queue.recover_orphans(store.conn)  # ... when the engine died; the next start resumes the job
    assert worker.tick()
    assert state(store) == ("done", None)


def test_deaths_while_working_fail_the_file_and_a_clean_run_retries_it(tmp_path: Path) -> None:
    store, worker, config = setup(tmp_path)
    for _ in range(queue.MAX_CLAIMS):
        jobs = queue.claim(store.conn, "killed-engine", ["probe"], 1, 300)
        queue.set_aside(store.conn, jobs)
        queue.begin(store.conn, jobs)  # the stage was ready and had opened the file when the engine died
        queue.recover_orphans(store.conn)
    assert worker.tick()
    assert state(store) == (
        "failed",
        "the engine stopped 10 times while working on this file at probe; it is tried again by itself once the"
        " engine has run 15 minutes without stopping",
    )
    minutes = [0.0]
    retry = CrashRetry(store, config, wake=lambda: None, clock=lambda: minutes[0] * 60)
    minutes[0] = 14.9
    assert retry.tick() == 0 and state(store)[0] == "failed"  # not yet a clean run
    minutes[0] = 15.0
    assert retry.tick() == 1
    assert worker.tick()
    assert state(store) == ("done", None)


def test_a_claim_that_ends_with_an_outcome_takes_back_its_own_mark_only(tmp_path: Path) -> None:
    store, _, _ = setup(tmp_path)
    (job,) = queue.claim(store.conn, "killed-engine", ["probe"], 1, 300)
    queue.begin(store.conn, [job])
    queue.recover_orphans(store.conn)  # one death while working
    (job,) = queue.claim(store.conn, "w", ["probe"], 1, 300)
    assert job.touched == 1
    queue.begin(store.conn, [job])
    assert queue.wait(store.conn, job, "quiet hours", 0)  # this claim ended cleanly: the earlier death stays
    (job,) = queue.claim(store.conn, "w", ["probe"], 1, 300)
    assert job.touched == 1
    assert queue.complete(store.conn, job, {}, 1.0, "hash", 300, keep=False)
    (job,) = queue.claim(store.conn, "w", ["hash"], 1, 300)
    assert job.touched == 0  # each stage starts afresh


class RecordingStage(Stage):
    """A stage (the contract any stage follows) that remembers its batches and, like a tool that chokes on one
    file, raises for the whole batch when `bad` is in it."""

    name = "look"
    pool = "cpu"
    batch_size = 8

    def __init__(self, bad: str = "") -> None:
        self.bad = bad
        self.batches: list[list[str]] = []

    def run_batch(self, items: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
        names = [item.path.name for item in items]
        self.batches.append(names)
        if self.bad in names:
            raise ValueError(f"cannot read {self.bad}")
        return [{"looked": True} for _ in items]


def batch_setup(tmp_path: Path, stage: RecordingStage, count: int) -> tuple[Store, StageWorker]:
    store = Store(tmp_path / "engine.db")
    for index in range(count):
        queue.enqueue(store.conn, f"/photos/{index}.jpg", "/photos", FileStat(10, 1, index + 1), "look")
    pipeline = Pipeline([stage], ReducedCache(tmp_path / "cache"))
    config = Config(data_dir=tmp_path / "data")
    worker = StageWorker("cpu", 0, [stage], pipeline, store, config, Control(), recheck=lambda _: None)
    return store, worker


def test_a_batch_that_raises_for_one_file_is_retried_file_by_file(tmp_path: Path) -> None:
    stage = RecordingStage(bad="2.jpg")
    store, worker = batch_setup(tmp_path, stage, 4)
    assert worker.tick()
    states = dict(store.conn.execute("SELECT files.path, jobs.state FROM jobs JOIN files ON files.id = jobs.file_id"))
    assert states == {
        "/photos/0.jpg": "done",
        "/photos/1.jpg": "done",
        "/photos/2.jpg": "queued",
        "/photos/3.jpg": "done",
    }
    error = store.conn.execute("SELECT error FROM jobs WHERE state = 'queued'").fetchone()[0]
    assert error == "internal error: ValueError: cannot read 2.jpg"  # its own error, retried later by itself
    assert stage.batches[0] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"] and stage.batches[1:] == [
        [n] for n in stage.batches[0]
    ]


def test_a_file_the_engine_died_on_is_worked_on_alone(tmp_path: Path) -> None:
    stage = RecordingStage()
    store, worker = batch_setup(tmp_path, stage, 4)
    jobs = queue.claim(store.conn, "killed-engine", ["look"], 4, 300)
    queue.set_aside(store.conn, jobs)
    queue.begin(store.conn, [jobs[2]])  # the engine died while the stage had only 2.jpg open
    queue.recover_orphans(store.conn)
    assert worker.tick()
    assert stage.batches == [["2.jpg"], ["0.jpg", "1.jpg", "3.jpg"]]
    assert queue.counts(store.conn)["done"] == 4
