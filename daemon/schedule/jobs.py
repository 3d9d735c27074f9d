"""Timed engine jobs on an APScheduler 3 BackgroundScheduler (imported only when a job is configured):
periodic reconcile scans, retries of passing failures with back-off, nightly maintenance when idle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from daemon.config import Config
from daemon.schedule.workhours import parse_clock
from daemon.store import Store, maintenance, settings

log = logging.getLogger("image_engine.schedule")
DEFER_MINUTES = 15  # maintenance found work running: look again this much later


class Schedule:
    """Registers the jobs `[engine] rescan_minutes` and `[schedule]` ask for; `now` drives the business
    logic (retry back-off, retention) so tests use a controllable clock; APScheduler keeps its own time."""

    def __init__(
        self,
        store: Store,
        config: Config,
        rescan: Callable[[], Any],
        wake: Callable[[], Any] = lambda: None,
        now: Callable[[], datetime] = datetime.now,
    ):
        self.store = store
        self.config = config
        self.rescan_callback = rescan
        self.wake = wake
        self.now = now
        self.scheduler: Any = None

    def wanted(self) -> dict[str, Any]:
        """Job id -> (trigger kind, trigger arguments) for what the config turns on."""
        jobs: dict[str, Any] = {}
        if self.config.engine.rescan_minutes > 0:
            jobs["rescan"] = ("interval", {"minutes": self.config.engine.rescan_minutes})
        schedule = self.config.schedule
        if schedule.enabled and schedule.retry_failed_minutes > 0:
            jobs["retry_failed"] = ("interval", {"minutes": schedule.retry_failed_minutes})
        if schedule.enabled and schedule.maintenance_at.strip():
            at = parse_clock(schedule.maintenance_at)
            jobs["maintenance"] = ("cron", {"hour": at.hour, "minute": at.minute})
        from daemon.people.setup import people_enabled

        if schedule.enabled and self.config.people.recluster_minutes > 0 and people_enabled(self.config):
            jobs["people_recluster"] = ("interval", {"minutes": self.config.people.recluster_minutes})
        return jobs

    def start(self) -> None:
        wanted = self.wanted()
        if not wanted:
            return
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            # A laptop asleep at 03:30 runs maintenance when it wakes (within the hour); missed runs coalesce.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            daemon=True,
        )
        functions = {
            "rescan": self.rescan,
            "retry_failed": self.retry_failed,
            "maintenance": self.maintenance,
            "people_recluster": self.people_recluster,
        }
        for job_id, (trigger, arguments) in wanted.items():
            self.scheduler.add_job(functions[job_id], trigger, id=job_id, name=job_id, **arguments)
        self.scheduler.start()
        log.info(
            "schedule started",
            extra={"event": "schedule_started", "detail": {job.id: str(job.trigger) for job in self.jobs()}},
        )

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.scheduler = None

    def jobs(self) -> list[Any]:
        return [] if self.scheduler is None else self.scheduler.get_jobs()

    def run_soon(self, job_id: str) -> None:
        """Fire a registered job now, through the scheduler's own executor."""
        job = self.scheduler.get_job(job_id)
        job.modify(next_run_time=datetime.now(self.scheduler.timezone))
        self.scheduler.wakeup()

    def rescan(self) -> None:
        log.info("periodic rescan", extra={"event": "scheduled_rescan"})
        self.rescan_callback()

    def retry_failed(self) -> int:
        """Queue failures of a passing kind again (RetryableError, internal errors), with back-off per round."""
        base = self.config.schedule.retry_failed_minutes * 60
        count = maintenance.retry_passing_failures(self.store.conn, base, self.now().timestamp())
        if count:
            log.info("retrying failed jobs", extra={"event": "scheduled_retry", "detail": f"{count} job(s)"})
            self.wake()
        return count

    def people_recluster(self) -> dict[str, Any]:
        """New groups from the unknown faces (daemon/people/service.py), when no job is running."""
        from daemon.people.service import grouping_of, recluster

        if maintenance.activity(self.store.conn)["running"]:
            return {"deferred": True}
        rerun = "metadata" if self.config.metadata.enabled else None
        report = recluster(self.store.conn, grouping_of(self.config), rerun)
        if report.get("joined_known"):
            self.wake()
        return report

    def maintenance(self) -> dict[str, Any]:
        """Nightly housekeeping when no job is running: prune, ANALYZE, VACUUM if the queue is empty."""
        conn = self.store.conn
        activity = maintenance.activity(conn)
        if activity["running"]:
            self._defer()
            return {"deferred": True, **activity}
        retention = timedelta(days=self.config.schedule.log_retention_days)
        pruned = maintenance.prune(conn, (self.now() - retention).timestamp())
        maintenance.optimize(conn)
        free = maintenance.free_share(conn)
        vacuumed = activity["active"] == 0 and free >= maintenance.VACUUM_MIN_FREE_SHARE
        if vacuumed:
            maintenance.vacuum(conn)
        report = {"at": self.now().isoformat(timespec="seconds"), "pruned": pruned, "vacuumed": vacuumed}
        report["free_share_before"] = round(free, 3)
        settings.put(conn, "maintenance_last", json.dumps(report))
        log.info("maintenance done", extra={"event": "maintenance_done", "detail": report})
        return report

    def _defer(self) -> None:
        log.info("maintenance deferred: jobs are running", extra={"event": "maintenance_deferred"})
        if self.scheduler is None or not self.scheduler.running:
            return
        when = datetime.now(self.scheduler.timezone) + timedelta(minutes=DEFER_MINUTES)
        self.scheduler.add_job(
            self.maintenance,
            "date",
            run_date=when,
            id="maintenance_retry",
            name="maintenance_retry",
            replace_existing=True,
        )
