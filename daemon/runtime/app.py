"""The composition root: App(config) builds the whole engine from a Config; App.run(stop_event) owns every thread.

Flow: watchers -> intake (settle) -> store queue -> stage workers -> store. Each part gets only what it needs:
the control routes get the store and a few callables, never the App.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon import __version__
from daemon.config import Config, WatchConfig
from daemon.control.api import core_routes
from daemon.control.backfill import backfill_routes
from daemon.control.dedup import dedup_routes
from daemon.control.learn import learn_routes
from daemon.control.people import people_routes
from daemon.control.protocol import Endpoint, Status, ensure_token, write_endpoint
from daemon.control.rename import rename_routes
from daemon.control.search import search_routes
from daemon.control.server import ControlServer, Handler
from daemon.control.tagging import tagging_routes
from daemon.errors import EngineError
from daemon.executors.backfill import Backfills
from daemon.gpu import monitor as gpu
from daemon.gpu.monitor import GpuMonitor
from daemon.learn.service import Learner
from daemon.pipeline import Pipeline, build_pipeline
from daemon.pipeline.crash_retry import CrashRetry
from daemon.pipeline.workers import Control, StageWorker
from daemon.schedule.jobs import Schedule
from daemon.schedule.workhours import WorkHours
from daemon.store import Store, files, queue, settings
from daemon.store.connection import set_wal_autocheckpoint
from daemon.watch.intake import Intake
from daemon.watch.library import watched_folders
from daemon.watch.observer import WatchManager
from daemon.watch.reconcile import reconcile
from daemon.watch.scans import ScanBook

if TYPE_CHECKING:
    from daemon.ml.session import ModelSession

log = logging.getLogger("image_engine.app")
Ticker = Callable[["App"], None]


class App:
    def __init__(self, config: Config):
        """Build every part, in the order they depend on each other; nothing starts yet (see `start`)."""
        self.config = config
        self.started = time.time()
        make_folders(config)
        set_wal_autocheckpoint(config.engine.wal_autocheckpoint)
        self.store = Store(config.db_path)
        self.control = Control(paused=settings.get(self.store.conn, "paused") == "1")
        self.pipeline: Pipeline = build_pipeline(config, self.store)
        # Policy gates for heavy stages: work hours first (stable reason), then GPU busy / heat / battery.
        self.work_hours = WorkHours(config.schedule.work_hours if config.schedule.enabled else "")
        self.gpu = GpuMonitor(config.gpu, busy=lambda: queue.counts(self.store.conn)["running"] > 0)
        self.pipeline.gates += [self.work_hours.gate, self.gpu.gate]
        self.schedule = Schedule(
            self.store, config, rescan=lambda: self.rescan_soon(None), wake=self.control.work_available.set
        )
        self.intake = Intake(
            self.store,
            self.pipeline.first,
            config.engine.settle_seconds,
            config.engine.ignore,
            on_enqueued=self.control.work_available.set,
        )
        self.watched = watched_folders(config)  # the [[watch]] folders and the library
        self.watchers = WatchManager(self.watched, self.intake, self.store, config.engine.ignore, self.rescan_soon)
        self.workers: list[StageWorker] = [
            StageWorker(pool, index, stages, self.pipeline, self.store, config, self.control, self.intake.recheck)
            for pool, stages in self.pipeline.pools().items()
            for index in range(self.worker_counts().get(pool, 1))
        ]
        self.tickers: list[Ticker] = [CrashRetry(self.store, config, self.control.work_available.set).tick]
        self.scans = ScanBook()
        # `image-engine backfill`: planned here, run by the local workers or on a Ray cluster (daemon/executors).
        self.backfills = Backfills(
            self.store,
            self.pipeline,
            config,
            self.control,
            self.plan_backfill,
            self.intake.pending_count,
            self.intake.recheck,
        )
        # Taught keywords: retrained and applied to the library in the background (daemon.learn).
        self.learner = Learner.for_engine(self.store, self.control, {stage.name for stage in self.pipeline.stages})
        self.token = ensure_token(config.data_dir)
        self.server = ControlServer(
            config.control.host,
            config.control.port,
            self.token,
            self.routes(),
            after_request=self.store.release_thread,
            review=self.review_app,
        )

    def routes(self) -> dict[tuple[str, str], Handler]:
        """The control API's route table; each feature's routes get only the parts they use."""
        wake = self.control.work_available.set
        stage_names = {stage.name for stage in self.pipeline.stages}
        return {
            **core_routes(self, self.store, wake),
            **tagging_routes(self.store, self.config.tagging.backend, self.tag_session),
            **dedup_routes(
                self.store,
                self.config.dedup.action,
                stage_names,
                wake,
                str(self.config.library.root / self.config.dedup.folder),
            ),
            **rename_routes(self.store, self.config, self.pipeline.first, wake),
            **search_routes(self.store, self.tag_session),
            **learn_routes(self.store, self.learner),
            **backfill_routes(self.start_backfill, self.backfills.status),
            **people_routes(self.store, self.config),
        }

    def tag_session(self) -> ModelSession | None:
        """The tag stage's model session (loaded lazily), or None when tagging is off."""
        try:
            return getattr(self.pipeline.stage("tag"), "session", None)
        except KeyError:
            return None

    def scan_progress(self, scan_id: int) -> dict[str, Any] | None:
        return self.scans.get(scan_id)

    def review_app(self, port: int, routes: dict[tuple[str, str], Handler]) -> Any:
        from daemon.web.review import ReviewApp

        return ReviewApp(port, self.store, self.config, routes, self.control.work_available.set)

    def worker_counts(self) -> dict[str, int]:
        return {"cpu": self.config.engine.workers}

    def start(self) -> None:
        orphans = queue.recover_orphans(self.store.conn)
        if orphans:
            log.warning("resuming interrupted jobs", extra={"event": "recovered", "detail": f"{orphans} job(s)"})
        from daemon.metadata.guard import SCRATCH, clear_leftovers
        from daemon.rename.startup import settle_on_start

        settle_on_start(self.store.conn, self.config)  # interrupted moves, before any worker runs
        clear_leftovers(self.config.cache_dir / SCRATCH)  # originals kept by writes a kill interrupted
        self.server.start()
        self.intake.start()
        self.gpu.start()
        gpu.install(self.gpu)
        for worker in self.workers:
            worker.start()
        self.learner.start()
        self.watchers.start()
        self.start_scan(None)
        if self.config.cluster.executor == "ray":
            try:
                self.backfills.start_cluster(self.config.cluster.ray_address, forever=True)
            except EngineError as exc:  # the engine still works, on its own workers; status says why
                log.error("no cluster", extra={"event": "cluster_failed", "error": str(exc)})
        self.backfills.resume_unfinished()
        self.schedule.start()
        # Clients find the service only now that its folders exist and are watched (a drop right after
        # `status` answers must not land in a folder that is not there yet).
        write_endpoint(self.config.data_dir, Endpoint(self.config.control.host, self.server.port, os.getpid()))
        log.info(
            "started",
            extra={
                "event": "started",
                "detail": f"data={self.config.data_dir} api=127.0.0.1:{self.server.port} paused={self.control.paused}",
            },
        )

    def run(
        self,
        stop: threading.Event,
        on_ready: Callable[[], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
    ) -> None:
        self.start()
        if on_ready:
            on_ready()
        try:
            while not stop.wait(0.5):
                self.watchers.check(time.monotonic())
                for ticker in self.tickers:
                    ticker(self)
        finally:
            if on_stopping:
                on_stopping()
            self.shutdown()

    def shutdown(self, timeout: float = 10.0) -> None:
        log.info("stopping", extra={"event": "stopping"})
        self.schedule.stop()
        self.watchers.stop()
        self.intake.stop()
        self.control.stop.set()
        self.control.work_available.set()
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            if worker.ident is not None:  # started
                worker.join(timeout=max(0.1, deadline - time.monotonic()))
        self.learner.join(timeout=max(0.1, deadline - time.monotonic()))
        self.backfills.join(timeout=max(0.1, deadline - time.monotonic()))  # its Ray job ends before the store closes
        self.pipeline.close()
        gpu.install(None)
        self.gpu.stop()
        try:
            self.server.stop()
        finally:
            (self.config.control_path).unlink(missing_ok=True)
            self.store.close()
        log.info("stopped", extra={"event": "stopped"})

    def set_paused(self, paused: bool) -> None:
        settings.put(self.store.conn, "paused", "1" if paused else "0")
        self.control.set_paused(paused)
        log.info("paused" if paused else "resumed", extra={"event": "paused" if paused else "resumed"})

    def rescan_soon(self, path: Path | None) -> None:
        """A rescan asked for by the watchers (queue overflow, a root that came back); at most one running."""
        roots = self._roots_for(path)
        progress = self.scans.open_unless_running()
        if progress is not None:
            self._scan_in_background(progress, roots, path)

    def start_scan(self, path: Path | None) -> int:
        roots = self._roots_for(path)
        progress = self.scans.open()
        self._scan_in_background(progress, roots, path)
        return progress["id"]

    def start_backfill(self, paths: list[Path], ray: str | None) -> dict[str, Any]:
        for path in paths:
            self._backfill_root(path)  # each must be a folder the engine keeps: said now, not in the background
        return self.backfills.start(paths, ray)

    def plan_backfill(self, path: Path) -> dict[str, int]:
        """The backfill's plan for one folder: the files not yet recorded as they are now go to the queue."""
        watch = self._backfill_root(path)
        return reconcile(path, watch.recursive, self.store, self.intake, self.config.engine.ignore)

    def _backfill_root(self, path: Path) -> WatchConfig:
        """A watched folder holding `path`, or the library (watched or not: a NAS too big to watch is backfilled)."""
        if not path.is_dir():
            raise ValueError(f"{path}: not a folder")
        if _contains(self.config.library.root, path) and not any(_contains(w.path, path) for w in self.watched):
            return WatchConfig(path=self.config.library.root, recursive=True, mode="in-place")
        return self._roots_for(path)[0]

    def _roots_for(self, path: Path | None) -> list[WatchConfig]:
        roots = [w for w in self.watched if path is None or _contains(w.path, path)]
        if path is not None and not roots:
            watched = ", ".join(str(w.path) for w in self.watched)
            fix = (
                "set watch = true under [library]"
                if _contains(self.config.library.root, path)
                else "add a [[watch]] entry for it"
            )
            raise ValueError(
                f"{path} is not inside a watched folder ({watched}): {fix} in"
                f" {self.config.source or 'the config file'} and restart the service"
            )
        return roots

    def _scan_in_background(self, progress: dict[str, Any], roots: list[WatchConfig], path: Path | None) -> None:
        def work() -> None:
            again = False
            try:
                for watch in roots:
                    target = path if path is not None else watch.path

                    def report(done: int, total: int, before: int = progress["done"]) -> None:
                        progress["done"], progress["total"] = before + done, before + total  # roots add up

                    outcome = reconcile(
                        target, watch.recursive, self.store, self.intake, self.config.engine.ignore, report
                    )
                    progress["submitted"] += outcome["submitted"]
                    progress["missing"] += outcome["missing"]
                again = self.scans.finish(progress, "done")
                log.info("scan done", extra={"event": "scan_done", "detail": dict(progress)})
            except Exception as exc:  # noqa: BLE001 - a scan failure is reported, not fatal
                again = self.scans.finish(progress, "failed", str(exc))
                log.exception("scan failed", extra={"event": "scan_failed"})
            finally:
                self.store.release_thread()
            if again:
                self.rescan_soon(None)

        threading.Thread(target=work, name=f"scan-{progress['id']}", daemon=True).start()

    def status(self) -> Status:
        conn = self.store.conn
        counts = queue.counts(conn)
        today = local_midnight(time.time())
        done_today = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE state = 'done' AND finished_at >= ?", (today,)
        ).fetchone()[0]
        return Status(
            state="paused" if self.control.paused else "running",
            jobs=counts,
            files=files.count_present(conn),
            errors=settings.recent_errors(conn),
            uptime=round(time.time() - self.started, 1),
            stages=queue.stage_counts(conn),
            watching=[
                {"path": str(r.config.path), "polling": r.polling, "reason": r.reason} for r in self.watchers.roots
            ],
            data_dir=str(self.config.data_dir),
            library=str(self.config.library.root),
            log_path=str(self.config.log_path),
            done_today=done_today,
            gpu=self.gpu.status(),
            version=__version__,
            learning=self.learner.status(),
            backfill=self.backfills.status(),
        )


def local_midnight(now: float) -> float:
    """The start of the user's day (their time zone), in epoch seconds: what "done today" counts from."""
    return datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()  # DST-aware


def make_folders(config: Config) -> None:
    """The data, cache and library folders; the data folder (token, store) is private to the user."""
    for folder in (config.data_dir, config.cache_dir, config.library.root):
        folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(config.data_dir, 0o700)


def _contains(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
