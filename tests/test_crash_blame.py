"""Engine deaths are blamed on a file only when a stage was working on it, and such a failure comes back by
itself after a clean run. Real store, real worker, real probe and hash stages on a corpus photo; a death is the
start-up recovery of a job a killed engine left running.
"""

from __future__ import annotations

from pathlib import Path

from daemon.config import Config, EngineConfig
from daemon.pipeline import Pipeline
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
        assert queue.claim(store.conn, "killed-engine", ["probe"], 1, 300)  # claimed, still getting ready ...
        queue.recover_orphans(store.conn)  # ... when the engine died; the next start resumes the job
    assert worker.tick()
    assert state(store) == ("done", None)


def test_deaths_while_working_fail_the_file_and_a_clean_run_retries_it(tmp_path: Path) -> None:
    store, worker, config = setup(tmp_path)
    for _ in range(queue.MAX_CLAIMS):
        jobs = queue.claim(store.conn, "killed-engine", ["probe"], 1, 300)
        queue.begin(store.conn, jobs)  # the stage had opened the file when the engine died
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
