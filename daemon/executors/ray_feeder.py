"""The owner's loop for the Ray executor: claim the queued jobs at the node stages, window by window, run each window
on the cluster, and record every outcome through the same StageWorker code a local worker uses.

Pause or stop ends the window: unfinished jobs go back to the queue untouched, so a later run does only the rest.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from daemon.config import Config
from daemon.executors.node import REMOTE_STAGES
from daemon.executors.ray_cluster import RayCluster, Shape
from daemon.executors.wire import Parcel, decode_outcome
from daemon.pipeline import Pipeline
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, files, queue

log = logging.getLogger("image_engine.cluster")
WINDOW_PER_CPU = 128  # jobs claimed per window and cluster CPU: windows long enough that starting one is noise
WINDOW_MIN = 512
LEASE_SECONDS = 24 * 3600.0  # a window's jobs stay ours until recorded; a restart requeues them (recover_orphans)


class RayFeeder:
    def __init__(
        self,
        cluster: RayCluster,
        store: Store,
        pipeline: Pipeline,
        config: Config,
        control: Control,
        recheck: Callable[[str], None],
    ):
        self.cluster = cluster
        self.store = store
        self.pipeline = pipeline
        self.config = config
        self.control = control
        self.stages = [stage for stage in pipeline.stages if stage.name in REMOTE_STAGES]
        self.names = [stage.name for stage in self.stages]
        # Records exactly as a local worker does: the same settle_outcome, stage contracts and store code.
        self.recorder = StageWorker("ray", 0, self.stages, pipeline, store, config, control, recheck)
        self.shape: Shape | None = None
        self.error: str | None = None
        self.last_count = 0  # jobs queued at the last look: a window starts once the queue stops growing
        self.photos = 0  # parcels recorded
        self.outcomes = 0  # stage outcomes recorded
        self.record_seconds = 0.0
        self.wire: Counter[str] = Counter()  # bytes per hop, summed over parcels

    def window(self) -> int:
        cpus = int(self.shape.cpus) if self.shape else 1
        return max(WINDOW_MIN, WINDOW_PER_CPU * cpus)

    def run(self, filling: Callable[[], bool], forever: bool = False) -> None:
        """Until stopped, or (unless `forever`) until nothing is queued at the node stages and `filling` (files still
        being planned) is False. Paused: nothing is claimed; the window in flight ends and its rest is released."""
        if self.shape is None:
            self.shape = self.cluster.connect()
        log.info("cluster joined", extra={"event": "cluster_joined", "detail": vars(self.shape)})
        conn = self.store.conn
        while not self.control.stop.is_set():
            if self.control.paused:
                self.control.stop.wait(0.2)
                continue
            window = self.window()
            planning = filling()
            queued = queue.count_active(conn, self.names, cap=window, states=("queued",))
            if queued < window and (planning or queued > self.last_count):
                self.last_count = queued  # still coming (planned, or a copy in progress): wait for a full window
                self.control.stop.wait(0.5)
                continue
            self.last_count = 0
            jobs = queue.claim(conn, self.recorder.owner, self.names, window, LEASE_SECONDS)
            if not jobs:
                if not (forever or planning):
                    break
                self.control.stop.wait(0.5)
                continue
            queue.set_aside(conn, jobs)  # the files run elsewhere: a death of this engine is not their fault
            self.run_window(jobs)
        self.store.release_thread()

    def run_window(self, jobs: list[queue.Job]) -> None:
        conn = self.store.conn
        in_flight = {job.file_id: job for job in jobs}
        parcels = [Parcel(job, self.names[self.names.index(job.stage) :], self.earlier(job)) for job in jobs]
        stream = self.cluster.run(self.config, parcels)
        try:
            for parcel in stream:
                job = in_flight.pop(parcel.job.file_id, None)
                if job is None:
                    continue  # delivered again by a retried task: each photo is recorded once
                self.record(job, parcel)
                if self.control.stop.is_set() or self.control.paused:
                    break
        finally:
            stream.close()  # stops the Ray Data pipeline: its tasks and actors end with it
            for job in in_flight.values():
                queue.release(conn, job)

    def earlier(self, job: queue.Job) -> dict[str, dict[str, Any]]:
        """What the stages before the job's current one recorded (a job resumed half-way)."""
        found: dict[str, dict[str, Any]] = {}
        for stage in self.pipeline.stages:
            if stage.name == job.stage:
                break
            data = files.result_of(self.store.conn, job.file_id, stage.name)
            if data is not None:
                found[stage.name] = json.loads(data)
        return found

    def record(self, job: queue.Job, parcel: Parcel) -> None:
        started = time.perf_counter()
        item = self.recorder.make_item(job)
        kept = True
        for name, encoded in parcel.outcomes:
            if name != job.stage:
                break
            outcome = decode_outcome(encoded)
            stage = self.pipeline.stage(name)
            if isinstance(outcome, dict) and hasattr(stage, "add_learned"):
                stage.add_learned(outcome, job.file_id)  # taught keywords live in the store: added here
            self.outcomes += 1
            kept = self.recorder.settle_outcome(stage, item, outcome, float(encoded.get("ms", 0.0)))
            if not kept:
                break
        if kept:  # still ours at a node stage the cluster did not run: back to the queue
            queue.release(self.store.conn, job)
        self.photos += 1
        self.wire.update(parcel.wire)
        self.record_seconds += time.perf_counter() - started

    def figures(self) -> dict[str, Any]:
        photos = max(self.photos, 1)
        return {
            "error": self.error,
            "photos": self.photos,
            "records_per_second": round(self.outcomes / self.record_seconds, 1) if self.record_seconds else None,
            "bytes_per_photo": {hop: round(total / photos) for hop, total in self.wire.items()},
        }
