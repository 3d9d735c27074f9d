"""`image-engine backfill PATH... [--ray]`: plan the files not yet done under some folders, run them, report progress.

Locally the engine's workers do the work; with Ray the node stages run on the cluster (RayFeeder) and this engine
records and runs the rest. An unfinished backfill is kept in the store's settings and resumes after a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.config import Config
from daemon.errors import EngineError
from daemon.executors.node import REMOTE_STAGES
from daemon.executors.ray_cluster import RayCluster
from daemon.executors.ray_feeder import RayFeeder
from daemon.pipeline import Pipeline
from daemon.pipeline.workers import Control
from daemon.store import Store, backfill, settings

log = logging.getLogger("image_engine.backfill")
SETTING = "backfill"  # the running backfill's paths and executor, until it is done
Plan = Callable[[Path], dict[str, int]]  # reconcile one folder with the store: {"seen", "submitted", ...}


class Backfills:
    """The engine's one backfill at a time (and, with [cluster] executor = "ray", its always-on cluster feeder)."""

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        config: Config,
        control: Control,
        plan: Plan,
        pending: Callable[[], int],
        recheck: Callable[[str], None],
    ):
        self.store = store
        self.pipeline = pipeline
        self.config = config
        self.control = control
        self.plan = plan
        self.pending = pending  # files the intake still settles before they are queued
        self.recheck = recheck
        self.current: dict[str, Any] = {}
        self.feeder: RayFeeder | None = None
        self.feeder_thread: threading.Thread | None = None
        self.thread: threading.Thread | None = None
        self.planning = threading.Event()  # set while a backfill plans: the feeder waits for full windows
        if config.cluster.executor == "ray":  # from the first moment: local workers never start node stages
            control.elsewhere.update(self.node_stages())
        self.lock = threading.Lock()
        self.next_id = 1

    def start(self, paths: list[Path], ray: str | None) -> dict[str, Any]:
        """Begin a backfill of `paths` (Ray at address `ray`, "auto", or None for local); one at a time."""
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                raise ValueError(f"a backfill of {', '.join(self.current['paths'])} is running; wait for it to finish")
            executor = "ray" if ray is not None or self.config.cluster.executor == "ray" else "local"
            self.current = {
                "id": self.next_id,
                "paths": [str(path) for path in paths],
                "executor": executor,
                "address": (ray or self.config.cluster.ray_address) if executor == "ray" else None,
                "state": "planning",
                "nodes": 1 if executor == "local" else 0,
                "started": time.time(),
                "finished": None,
                "error": None,
                "seen": 0,
                "submitted": 0,
            }
            self.next_id += 1
            if executor == "ray" and not self._feeding():  # a feeder for this backfill, joined before planning
                self.current["temporary"] = True
                self.control.elsewhere.update(self.node_stages())
            settings.put(self.store.conn, SETTING, json.dumps({"paths": self.current["paths"], "ray": ray}))
            self.thread = threading.Thread(target=self._run, name="backfill", daemon=True)
            self.thread.start()
            return dict(self.current)

    def node_stages(self) -> list[str]:
        return [stage.name for stage in self.pipeline.stages if stage.name in REMOTE_STAGES]

    def resume_unfinished(self) -> None:
        """A backfill the engine was stopped or killed in starts again: planning finds only what is not recorded."""
        saved = settings.get(self.store.conn, SETTING)
        if saved:
            wanted = json.loads(saved)
            log.info("resuming backfill", extra={"event": "backfill_resumed", "detail": wanted})
            try:
                self.start([Path(path) for path in wanted["paths"]], wanted.get("ray"))
            except ValueError as exc:  # the cluster is not there now: kept, and said in status
                log.error("backfill not resumed", extra={"event": "backfill_failed", "error": str(exc)})

    def start_cluster(self, address: str, forever: bool) -> None:
        """Join the cluster and feed it the node stages' work: `forever` ([cluster] executor = "ray"), or until the
        queue holds none of it and no backfill plans (a `backfill --ray` on a local engine)."""
        feeder = RayFeeder(RayCluster(address), self.store, self.pipeline, self.config, self.control, self.recheck)
        try:
            feeder.shape = feeder.cluster.connect()  # now, so a cluster that is not there is said at once
        except EngineError as exc:
            feeder.error = str(exc)
            self.control.elsewhere.difference_update(feeder.names)  # the local workers do the work
            self.feeder = feeder
            raise
        self.feeder = feeder
        self.control.elsewhere.update(self.feeder.names)  # local workers leave the node stages to Ray
        self.feeder_thread = threading.Thread(
            target=self._feed, args=(self.feeder, forever), name="ray-feeder", daemon=True
        )
        self.feeder_thread.start()

    def _feed(self, feeder: RayFeeder, forever: bool) -> None:
        try:
            feeder.run(filling=self.planning.is_set, forever=forever)
        except Exception as exc:  # noqa: BLE001 - reported in status; the local workers take the work back
            feeder.error = str(exc)
            log.exception("cluster run failed", extra={"event": "cluster_failed", "error": str(exc)})
        finally:
            if self.config.cluster.executor != "ray" or feeder.error:
                self.control.elsewhere.difference_update(feeder.names)
            self.control.work_available.set()
            self.store.release_thread()

    def _run(self) -> None:
        progress = self.current
        planning = self.planning
        planning.set()
        temporary = progress.pop("temporary", False)
        try:
            if temporary:  # first: an unreachable cluster fails the backfill before any file is queued
                self.start_cluster(progress["address"], forever=False)
            for path in progress["paths"]:
                outcome = self.plan(Path(path))
                progress["seen"] += outcome.get("seen", 0)
                progress["submitted"] += outcome.get("submitted", 0)
            while self.pending() and not self.control.stop.is_set():
                self.control.stop.wait(0.2)
            planning.clear()
            progress["state"] = "running"
            if temporary and self.feeder_thread is not None:
                self.feeder_thread.join()
            if self.feeder is not None and self.feeder.error:
                raise RuntimeError(self.feeder.error)
            while not self.control.stop.is_set() and self._active(progress):
                self.control.stop.wait(0.5)  # the owner's own stages (dedup, rename, metadata) finish the files
            if self.control.stop.is_set():
                progress["state"] = "stopped"  # kept in the settings: the next start resumes it
            else:
                progress["state"] = "done"
                settings.put(self.store.conn, SETTING, "")
        except Exception as exc:  # noqa: BLE001 - a backfill's failure is reported in status, the engine goes on
            progress["state"], progress["error"] = "failed", str(exc)
            settings.put(self.store.conn, SETTING, "")
            log.exception("backfill failed", extra={"event": "backfill_failed", "error": str(exc)})
        finally:
            planning.clear()
            progress["finished"] = time.time()
            log.info("backfill ended", extra={"event": "backfill_ended", "detail": self.status()})
            self.store.release_thread()

    def _feeding(self) -> bool:
        return self.feeder_thread is not None and self.feeder_thread.is_alive()

    def _active(self, progress: dict[str, Any]) -> bool:
        counts = backfill.progress_under(self.store.conn, progress["paths"])
        return counts.get("queued", 0) + counts.get("running", 0) > 0

    def status(self) -> dict[str, Any]:
        """What `status --json` shows under "backfill": which executor, how many nodes, how far."""
        if not self.current:
            idle: dict[str, Any] = {"executor": self.config.cluster.executor}
            if self.feeder is not None and self.feeder.shape is not None:
                idle.update(nodes=self.feeder.shape.nodes, cluster=self.feeder.figures())
            return idle
        progress = dict(self.current)
        counts = backfill.progress_under(self.store.conn, progress["paths"])
        total = sum(counts.values())
        finished = counts.get("done", 0) + counts.get("failed", 0)
        progress.update(counts=counts, total=total, done=finished)
        if progress["state"] in ("planning", "running") and self.control.paused:
            progress["state"] = "paused"
        if self.feeder is not None:
            shape = self.feeder.shape
            if shape is not None:
                progress.update(nodes=shape.nodes, cpus=shape.cpus, gpus=shape.gpus)
            progress["cluster"] = self.feeder.figures()
        elapsed = (progress["finished"] or time.time()) - progress["started"]
        progress["photos_per_second"] = round(finished / elapsed, 2) if elapsed > 0 else None
        return progress

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in (self.thread, self.feeder_thread):
            if thread is not None:
                thread.join(max(0.1, deadline - time.monotonic()))
