"""Worker threads: claim jobs for a pool of stages, run them, record and advance, one transaction each.

A job whose next stage is in the same pool stays with the worker, so in-memory results are reused.
"""

from __future__ import annotations

import errno
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from daemon.config import Config
from daemon.errors import GoneError, PermanentError, StageError, WaitingError
from daemon.pipeline import Pipeline, crash_retry
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.gather import gather
from daemon.pipeline.imaging import reduce
from daemon.store import Store, files, queue, transaction

log = logging.getLogger("image_engine.worker")
Settle = tuple[Stage, list[WorkItem], list[dict[str, Any] | BaseException], float]  # a stage's batch and outcomes
SMALL_STAGE_CLAIM = 64  # files claimed together for one-file-at-a-time stages when the backlog allows
# ... but only once the engine has run this long: a death counts against every file claimed, and an engine dying
# again and again (a crash loop) must blame one file at a time, as before, not fail sixteen innocent ones.
BATCH_AFTER_SECONDS = 10.0


class Control:
    """Shared run state: pause flag, the stop event, and a wake-up for new work."""

    def __init__(self, paused: bool = False):
        self.stop = threading.Event()
        self.work_available = threading.Event()
        self.elsewhere: set[str] = set()  # stages another executor (a Ray cluster) runs now: not claimed here
        self._paused = threading.Event()
        if paused:
            self._paused.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()
            self.work_available.set()


class StageWorker(threading.Thread):
    def __init__(
        self,
        pool: str,
        index: int,
        stages: list[Stage],
        pipeline: Pipeline,
        store: Store,
        config: Config,
        control: Control,
        recheck: Callable[[str], None],
    ):
        super().__init__(name=f"worker-{pool}-{index}", daemon=True)
        self.pool = pool
        self.stages = stages
        self.pipeline = pipeline
        self.store = store
        self.config = config
        self.control = control
        self.recheck = recheck
        self.owner = f"{pool}-{index}-{uuid.uuid4().hex[:8]}"
        self.batch_size = max(stage.batch_size for stage in stages)
        self.stage_names = [stage.name for stage in stages]
        self.idle_wait = 0.05
        self.unsettled: list[queue.Job] = []
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.control.stop.is_set():
            if self.control.paused:
                self.control.stop.wait(0.2)
                continue
            try:
                did_work = self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive anything (database locked, disk full)
                log.error("worker error", extra={"event": "worker_error", "error": traceback.format_exc(limit=3)})
                did_work = False
                self.control.stop.wait(1.0)
            if did_work:
                self.idle_wait = 0.05
            else:
                self.control.work_available.wait(self.idle_wait)
                self.control.work_available.clear()
                self.idle_wait = min(self.idle_wait * 2, 1.0)

    def runnable_stages(self) -> list[str]:
        runnable = []
        for stage in self.stages:
            if stage.name in self.control.elsewhere:
                continue
            if stage.name == self.pipeline.first and self.later_stages_full():
                continue  # the backlog stays queued at the start, not as reduced copies in memory or on disk
            reason = self.pipeline.blocked_reason(stage)
            if reason:
                queue.mark_stage_waiting(self.store.conn, stage.name, reason, retry_after=5.0)
            else:
                runnable.append(stage.name)
        return runnable

    def later_stages_full(self) -> bool:
        later = [stage.name for stage in self.pipeline.stages[1:]]
        limit = self.pipeline.ahead_limit
        # Waiting jobs (GPU busy, outside work hours, model missing) do not hold back the probing of new files.
        moving = queue.count_active(self.store.conn, later, cap=limit, states=("queued", "running"))
        return bool(later) and moving >= limit

    def tick(self) -> bool:
        self.release_unsettled()
        runnable = self.runnable_stages()
        if not runnable:
            return False
        self.gather(runnable)
        jobs = queue.claim(
            self.store.conn, self.owner, runnable, self.claim_size(runnable), self.config.engine.lease_seconds
        )
        if not jobs:
            return False
        items = [self.make_item(job) for job in jobs]
        self.unsettled = list(jobs)
        self.process(items)
        self.unsettled = []
        return True

    def gather(self, runnable: list[str]) -> None:
        """Wait a little for a fuller claim while earlier stages still work (see gather.py)."""
        if self.batch_size == 1 and time.monotonic() - self.started < BATCH_AFTER_SECONDS:
            return  # one file at a time now anyway
        full = self.batch_size if self.batch_size > 1 else SMALL_STAGE_CLAIM * self.peers
        names = [stage.name for stage in self.pipeline.stages]
        gather(self.store.conn, names, runnable, full, self.control.stop)

    @property
    def peers(self) -> int:
        """Workers of this pool (App gives pools other than cpu one worker)."""
        return max(1, self.config.engine.workers) if self.pool == "cpu" else 1

    def claim_size(self, runnable: list[str]) -> int:
        """The batch size; stages that take one file at a time (probe, hash) still claim a few together when the
        backlog gives every worker of the pool that many, so their outcomes are recorded in one transaction."""
        if self.batch_size > 1:
            return self.batch_size
        if time.monotonic() - self.started < BATCH_AFTER_SECONDS:
            return 1
        peers = self.peers
        backlog = queue.count_active(self.store.conn, runnable, cap=SMALL_STAGE_CLAIM * peers, states=("queued",))
        size = max(1, min(SMALL_STAGE_CLAIM, backlog // peers))
        later = [stage.name for stage in self.pipeline.stages[1:]]
        if size > 1 and self.pipeline.first in runnable and later:  # no more past the first stage than it has room
            limit = self.pipeline.ahead_limit
            size = min(
                size,
                max(1, limit - queue.count_active(self.store.conn, later, cap=limit, states=("queued", "running"))),
            )
        return size

    def release_unsettled(self) -> None:
        """Jobs whose outcome could not be recorded (database full or locked) go back to the queue now."""
        while self.unsettled:
            queue.release(self.store.conn, self.unsettled[-1])
            self.unsettled.pop()

    def make_item(self, job: queue.Job) -> WorkItem:
        def results(stage: str) -> dict[str, Any] | None:
            data = files.result_of(self.store.conn, job.file_id, stage)
            return None if data is None else json.loads(data)

        return WorkItem(job=job, results=results, reduced_loader=self.load_reduced)

    def load_reduced(self, item: WorkItem) -> Image.Image:
        cached = self.pipeline.reduced.get(item.job.file_id)
        if cached is not None:
            return cached
        from daemon.pipeline.imaging import open_image
        from daemon.pipeline.probe import read_bytes

        image = open_image(read_bytes(item.path), item.path, self.config.engine.max_image_pixels)
        return reduce(image, self.config.engine.reduced_size, item.result("probe").get("orientation"))

    def process(self, items: list[WorkItem]) -> None:
        working = items
        pending: list[Settle] = []  # outcomes of a pure stage, recorded in one commit with the next stage's
        while working:
            if self.control.stop.is_set() or self.control.paused:
                self.settle_batches(pending)
                for item in working:
                    queue.release(self.store.conn, item.job)
                return
            stage_name = min((item.job.stage for item in working), key=self.stage_names.index)
            stage = self.pipeline.stage(stage_name)
            batch = [item for item in working if item.job.stage == stage_name]
            rest = [item for item in working if item.job.stage != stage_name]
            suspect = next((item for item in batch if item.job.touched), None)
            if suspect is not None and len(batch) > 1:  # the engine died while working on it: alone, so a
                rest += [item for item in batch if item is not suspect]  # second death is blamed on it only
                batch = [suspect]
            if self.pipeline.blocked_reason(stage) or stage.one_by_one:
                self.settle_batches(pending)
                pending = []
            if self.pipeline.blocked_reason(stage):
                for item in batch:
                    queue.release(self.store.conn, item.job)
                working = rest
                continue
            if stage.one_by_one and len(batch) > 1:
                working = rest + self.one_by_one(stage, batch)
                continue
            started = time.perf_counter()
            outcomes = self.run_batch(stage, batch)
            ms = (time.perf_counter() - started) * 1000 / max(len(batch), 1)
            if stage.pure and self.pipeline.next_after(stage.name) in self.stage_names:
                pending.append((stage, batch, outcomes, ms))
                working = rest + self.carry(stage, batch, outcomes)
                continue
            working = rest + self.settle_batches([*pending, (stage, batch, outcomes, ms)])
            pending = []
        self.settle_batches(pending)

    def carry(
        self, stage: Stage, batch: list[WorkItem], outcomes: list[dict[str, Any] | BaseException]
    ) -> list[WorkItem]:
        """Items whose pure stage succeeded move on to the next stage in memory; the store learns it with the next
        stage's outcomes (a crash before that runs the pure stage again)."""
        carried = []
        for item, outcome in zip(batch, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                item.memory[f"result:{stage.name}"] = outcome
                item.job.stage = self.pipeline.next_after(stage.name) or stage.name
                carried.append(item)
        return carried

    def settle_batches(self, settles: list[Settle]) -> list[WorkItem]:
        """Record several stages' outcomes in one transaction, in order; returns the items the last one keeps for
        their next stage. An item whose earlier outcome could not be recorded is not recorded past it."""
        if not settles:
            return []
        carried: list[WorkItem] = []
        unrecorded: set[int] = set()
        trouble: Exception | None = None
        with transaction(self.store.conn):
            for stage, batch, outcomes, ms in settles:
                for item in batch:  # a deferred stage's jobs are still at it in the store
                    item.job.stage = stage.name
                kept = [(i, o) for i, o in zip(batch, outcomes, strict=True) if id(i) not in unrecorded]
                try:
                    carried = self.settle_batch(stage, [i for i, _ in kept], [o for _, o in kept], ms)
                except Exception as exc:  # noqa: BLE001 - raised once the others are committed
                    trouble = trouble or exc
                    unrecorded |= {id(item) for item, _ in kept if item.job.stage == stage.name}
                    carried = [item for item, _ in kept if item.job.stage != stage.name]
        if trouble is not None:
            raise trouble
        return carried

    def one_by_one(self, stage: Stage, batch: list[WorkItem]) -> list[WorkItem]:
        """Each file judged after the ones before it are recorded (in this connection's open transaction, which
        the stage reads through), all committed together; a file that cannot be recorded is raised after."""
        carried, trouble = [], None
        with transaction(self.store.conn):
            for item in batch:
                started = time.perf_counter()
                outcomes = self.run_batch(stage, [item])
                ms = (time.perf_counter() - started) * 1000
                try:
                    carried += self.settle_batch(stage, [item], outcomes, ms)
                except Exception as exc:  # noqa: BLE001 - its job stays unsettled; the others commit
                    trouble = trouble or exc
        if trouble is not None:
            raise trouble
        return carried

    def settle_batch(
        self, stage: Stage, batch: list[WorkItem], outcomes: list[dict[str, Any] | BaseException], ms: float
    ) -> list[WorkItem]:
        """Record a batch's outcomes in one transaction (each item a savepoint: one that cannot be recorded undoes
        only its own writes, and is raised after the others are committed); returns the items kept for their next
        stage. One commit per batch instead of one per file is most of the engine's disk writes."""
        carried, trouble = [], None
        with transaction(self.store.conn):
            for item, outcome in zip(batch, outcomes, strict=True):
                try:
                    if self.settle_outcome(stage, item, outcome, ms):
                        carried.append(item)
                except Exception as exc:  # noqa: BLE001 - its job stays unsettled (released next tick); the rest commit
                    trouble = trouble or exc
        if trouble is not None:
            raise trouble
        return carried

    def run_batch(self, stage: Stage, batch: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
        over = [item for item in batch if item.job.touched >= queue.MAX_CLAIMS]
        runnable = [item for item in batch if item.job.touched < queue.MAX_CLAIMS]
        outcomes: dict[int, dict[str, Any] | BaseException] = {
            id(item): PermanentError(
                f"the engine stopped {item.job.touched} times while working on this file at {stage.name}; it is"
                f" tried again by itself once the engine has run {crash_retry.describe(self.config)} without stopping"
            )
            for item in over
        }
        if runnable:
            if not stage.ready():  # a model to load, a tool to start: a death meanwhile is not the files' fault
                claimed = [item.job for item in runnable]
                queue.set_aside(self.store.conn, claimed)
                try:
                    stage.prepare()
                except Exception:  # noqa: BLE001 - the stage meets the same cause in run_batch and says it per file
                    log.debug("stage not ready", extra={"event": "prepare_failed", "stage": stage.name})
                queue.begin(self.store.conn, claimed)
            try:
                results = stage.run_batch(runnable)
            except Exception as exc:  # noqa: BLE001 - one file's error must not fail its batch mates
                results = [exc] if len(runnable) == 1 else [self.run_alone(stage, item) for item in runnable]
            outcomes.update({id(item): result for item, result in zip(runnable, results, strict=True)})
        return [outcomes[id(item)] for item in batch]

    @staticmethod
    def run_alone(stage: Stage, item: WorkItem) -> dict[str, Any] | BaseException:
        """One file of a batch that raised, run by itself: the file at fault fails, the others finish."""
        try:
            return stage.run_batch([item])[0]
        except Exception as exc:  # noqa: BLE001 - now it is this file's own error
            return exc

    def settle_outcome(self, stage: Stage, item: WorkItem, outcome: dict[str, Any] | BaseException, ms: float) -> bool:
        """Record one item's outcome; True when it stays with this worker for its next stage."""
        job = item.job
        conn = self.store.conn
        extra = {"job": job.id, "path": job.path, "stage": stage.name, "ms": round(ms, 1)}
        if isinstance(outcome, OSError) and outcome.errno in (errno.ENOSPC, errno.EDQUOT):
            outcome = WaitingError(f"disk full: {outcome.filename or ''}: {outcome.strerror}; free some space", 30.0)
        if isinstance(outcome, GoneError):
            queue.gone(conn, job, str(outcome), ms)
            log.info("file gone", extra={**extra, "event": "file_gone", "error": str(outcome)})
            self.finish(item)
            return False
        if isinstance(outcome, WaitingError):
            queue.wait(conn, job, outcome.reason, outcome.retry_after)
            log.info("job waiting", extra={**extra, "event": "job_waiting", "error": outcome.reason})
            return False
        if isinstance(outcome, BaseException):
            permanent = isinstance(outcome, PermanentError)
            if isinstance(outcome, StageError):
                message = str(outcome) or type(outcome).__name__
            else:
                message = f"internal error: {type(outcome).__name__}: {outcome}"
            verdict = queue.fail(
                conn,
                job,
                message,
                permanent=permanent,
                max_attempts=self.config.engine.max_attempts,
                backoff_seconds=self.config.engine.retry_backoff_seconds,
                ms=ms,
            )
            level = logging.ERROR if verdict == "failed" else logging.WARNING
            log.log(level, "job %s", verdict, extra={**extra, "event": f"job_{verdict}", "error": message})
            if verdict == "failed":
                self.finish(item)
            return False
        next_stage = self.pipeline.next_after(stage.name)
        keep = next_stage in self.stage_names
        item.memory[f"result:{stage.name}"] = outcome
        lease = self.config.engine.lease_seconds
        if not queue.complete(conn, job, outcome, ms, next_stage, lease, keep=keep, record=stage.record):
            log.warning("lease lost", extra={**extra, "event": "lease_lost"})
            return False
        log.debug("stage done", extra={**extra, "event": "stage_done"})
        if next_stage is None:
            log.info("job done", extra={**extra, "event": "job_done"})
            self.finish(item)
            return False
        if keep:
            return True
        self.control.work_available.set()
        return False

    def finish(self, item: WorkItem) -> None:
        self.pipeline.reduced.drop(item.job.file_id)
        if self.pipeline.face_copies is not None:  # a job that skipped the faces stage (or was re-queued past it)
            self.pipeline.face_copies.drop(item.job.file_id)
        self.control.work_available.set()  # room for one more past the first stage
        path = queue.take_dirty(self.store.conn, item.job.file_id)
        if path is not None:
            self.recheck(path)
