"""Schedule: work-hours windows (parsing, config errors, the gate with a controllable clock on a real worker),
the APScheduler jobs (registered from config; retry and maintenance against a real store; a periodic rescan
in the real engine finds a file its hourly polling watcher has not seen).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from daemon.config import Config, EngineConfig, PeopleConfig, ScheduleConfig, WatchConfig, parse_config
from daemon.errors import ConfigError
from daemon.pipeline.base import Stage
from daemon.runtime.app import App
from daemon.schedule.jobs import Schedule
from daemon.schedule.workhours import WorkHours, parse_windows
from daemon.store import Store, queue, settings, transaction
from tests.gates_support import heavy_pipeline
from tests.support import wait_for

NIGHT = "22:00-07:00"


class Clock:
    """A controllable clock: tests move time instead of sleeping."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def at(hhmm: str, day: int = 15) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 6, day, hour, minute)


# --- work hours ------------------------------------------------------------------------------------------------


def test_window_crossing_midnight() -> None:
    hours = WorkHours(NIGHT)
    for inside in ("22:00", "23:59", "00:00", "03:30", "06:59"):
        assert hours.inside(at(inside)), inside
    for outside in ("07:00", "12:00", "21:59"):
        assert not hours.inside(at(outside)), outside
    assert hours.reason(at("12:00")) == "outside work hours 22:00-07:00; resumes at 22:00"
    assert hours.next_start(at("23:00")) == at("22:00", day=16)


def test_several_windows_and_whole_day() -> None:
    hours = WorkHours("12:00-13:30, 22:00-07:00")
    assert hours.inside(at("12:45")) and hours.inside(at("02:00")) and not hours.inside(at("14:00"))
    assert hours.reason(at("08:00")) == "outside work hours 12:00-13:30, 22:00-07:00; resumes at 12:00"
    assert hours.reason(at("14:00")) == "outside work hours 12:00-13:30, 22:00-07:00; resumes at 22:00"
    assert WorkHours("9:00-17:00").reason(at("18:00")) == "outside work hours 09:00-17:00; resumes at 09:00 tomorrow"
    assert all(WorkHours("00:00-24:00").inside(at(t)) for t in ("00:00", "12:00", "23:59"))
    assert WorkHours("").inside(at("03:00")) and WorkHours("").reason(at("03:00")) is None


@pytest.mark.parametrize(
    ("bad", "part"),
    [
        ("25:00-07:00", "25:00-07:00"),
        ("22:00", "22:00"),
        ("10pm-6am", "10pm-6am"),
        ("22:00-22:00", "22:00-22:00"),
        ("22:00-07:00,", ""),
        ("12:00-13:00, 22:60-07:00", "22:60-07:00"),
        ("22:00-24:30", "22:00-24:30"),
    ],
)
def test_bad_work_hours_is_a_config_error_naming_the_key(bad: str, part: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        parse_windows(bad)
    source = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as caught:
        parse_config({"watch": [{"path": str(tmp_path)}], "schedule": {"work_hours": bad}}, source)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{source}: schedule.work_hours: ") and repr(part) in problem


def test_other_schedule_and_gpu_values_are_checked_all_at_once(tmp_path: Path) -> None:
    raw = {
        "watch": [{"path": str(tmp_path)}],
        "engine": {"rescan_minutes": -1},
        "gpu": {"yield_above_share": 1.5, "sample_seconds": 0},
        "schedule": {"maintenance_at": "3:70", "log_retention_days": 0, "work_hours": "22:00-07:00"},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, tmp_path / "c.toml")
    keys = [problem.split(": ")[1] for problem in caught.value.problems]
    assert keys == [
        "engine.rescan_minutes",
        "gpu.sample_seconds",
        "gpu.yield_above_share",
        "schedule.log_retention_days",
        "schedule.maintenance_at",
    ]


def test_work_hours_gate_holds_heavy_jobs_and_light_ones_run(tmp_path: Path) -> None:
    clock = Clock(at("12:00"))
    hours = WorkHours(NIGHT, now=clock)
    with heavy_pipeline(tmp_path, [hours.gate]) as rig:
        waiting = rig.all_in("waiting", "heavy jobs waiting outside work hours")
        assert {job["stage"] for job in waiting} == {"crunch"}  # probe (light) ran at noon
        assert {job["wait_reason"] for job in waiting} == {"outside work hours 22:00-07:00; resumes at 22:00"}
        clock.moment = at("22:01")
        rig.all_in("done", "heavy jobs run inside the window")


def test_app_registers_the_gates_for_heavy_stages(tmp_path: Path) -> None:
    now = datetime.now()
    closed = f"{(now + timedelta(hours=2)):%H:00}-{(now + timedelta(hours=3)):%H:00}"
    config = Config(
        data_dir=tmp_path / "data",
        watch=[WatchConfig(path=tmp_path / "drop")],
        schedule=ScheduleConfig(work_hours=closed, maintenance_at=""),
        people=PeopleConfig(enabled=False),
    )
    config.library.root = tmp_path / "library"
    (tmp_path / "drop").mkdir()
    app = App(config)
    app.start()
    try:
        heavy = Stage()
        heavy.name, heavy.heavy = "tag", True
        assert (app.pipeline.blocked_reason(heavy) or "").startswith(f"outside work hours {closed}; resumes at")
        assert app.pipeline.blocked_reason(app.pipeline.stage("probe")) is None
        assert app.status().gpu == "none"
        assert [job.id for job in app.schedule.jobs()] == ["rescan", "retry_failed"]
    finally:
        app.shutdown()


# --- scheduler jobs --------------------------------------------------------------------------------------------


def schedule_config(tmp_path: Path, **schedule: Any) -> Config:
    return Config(
        data_dir=tmp_path / "data",
        engine=EngineConfig(rescan_minutes=30.0),
        schedule=replace(ScheduleConfig(), **schedule),
        people=PeopleConfig(enabled=False),  # its re-clustering job: tests/test_people_store.py
    )


def test_jobs_are_registered_from_config(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    schedule = Schedule(
        store, schedule_config(tmp_path, retry_failed_minutes=45.0, maintenance_at="03:30"), rescan=list
    )
    schedule.start()
    try:
        jobs = {job.id: job for job in schedule.jobs()}
        assert set(jobs) == {"rescan", "retry_failed", "maintenance"}
        assert jobs["rescan"].trigger.interval == timedelta(minutes=30)
        assert jobs["retry_failed"].trigger.interval == timedelta(minutes=45)
        fields = {field.name: str(field) for field in jobs["maintenance"].trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("3", "30")
    finally:
        schedule.stop()
    off = schedule_config(tmp_path, retry_failed_minutes=0.0, maintenance_at="")
    off.engine.rescan_minutes = 0.0
    quiet = Schedule(store, off, rescan=list)
    quiet.start()
    assert quiet.scheduler is None and quiet.jobs() == []  # nothing to schedule: no scheduler thread at all
    store.close()


def failed_jobs(store: Store, tmp_path: Path, when: float) -> dict[str, queue.Job]:
    """Three files failing in three ways at `when`: a corrupt image, a locked file, an internal error."""
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for name in ("corrupt.jpg", "locked.jpg", "bug.jpg"):
        (folder / name).write_bytes(b"data " + name.encode())
        stat = (folder / name).stat()
        file_stat = queue.FileStat(stat.st_size, stat.st_mtime_ns, stat.st_ino)
        queue.enqueue(store.conn, str(folder / name), str(folder), file_stat, "probe", now=when)
    jobs = {Path(job.path).name: job for job in queue.claim(store.conn, "test", ["probe"], 10, 60, now=when)}
    errors = {"corrupt.jpg": ("not an image: truncated JPEG", True), "locked.jpg": ("file is locked", False)}
    errors["bug.jpg"] = ("internal error: KeyError: 'width'", False)
    for name, (error, permanent) in errors.items():
        verdict = queue.fail(
            store.conn, jobs[name], error, permanent=permanent, max_attempts=1, backoff_seconds=1, now=when
        )
        assert verdict == "failed"
    return jobs


def states(store: Store) -> dict[str, str]:
    return {Path(job["path"]).name: job["state"] for job in queue.list_jobs(store.conn)}


def refail(store: Store, when: float) -> None:
    for job in queue.claim(store.conn, "test", ["probe"], 10, 60, now=when):
        queue.fail(store.conn, job, "file is locked", permanent=False, max_attempts=1, backoff_seconds=1, now=when)


def test_retry_requeues_passing_failures_with_back_off_and_skips_permanent_ones(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    clock = Clock(at("10:00"))
    woken = threading.Event()
    schedule = Schedule(store, schedule_config(tmp_path), rescan=list, wake=woken.set, now=clock)
    failed_jobs(store, tmp_path, clock().timestamp())
    clock.advance(minutes=30)
    assert schedule.retry_failed() == 0  # younger than retry_failed_minutes
    clock.advance(minutes=31)
    assert schedule.retry_failed() == 2 and woken.is_set()
    assert states(store) == {"corrupt.jpg": "failed", "locked.jpg": "queued", "bug.jpg": "queued"}
    # They fail again: the second round waits twice as long.
    refail(store, clock().timestamp())
    clock.advance(minutes=61)
    assert schedule.retry_failed() == 0
    clock.advance(minutes=60)
    assert schedule.retry_failed() == 2
    assert states(store)["corrupt.jpg"] == "failed"
    store.close()


def test_a_triggered_retry_runs_through_the_scheduler(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    clock = Clock(at("10:00"))
    failed_jobs(store, tmp_path, clock().timestamp())
    clock.advance(hours=2)
    schedule = Schedule(store, schedule_config(tmp_path, maintenance_at=""), rescan=list, now=clock)
    schedule.start()
    try:
        schedule.run_soon("retry_failed")
        wait_for(lambda: states(store)["locked.jpg"] == "queued", 10, message="scheduled retry ran")
        assert states(store)["corrupt.jpg"] == "failed"
    finally:
        schedule.stop()
        store.close()


def add_log_rows(store: Store, when: float, count: int) -> None:
    with transaction(store.conn) as conn:
        conn.executemany(
            "INSERT INTO events (at, level, event, path, detail) VALUES (?, 'info', 'test', NULL, ?)",
            [(when, "x" * 400) for _ in range(count)],
        )
        conn.executemany(
            "INSERT INTO stage_runs (job_id, stage, attempt, outcome, ms, at) VALUES (0, 'probe', 1, 'ok', 1, ?)",
            [(when,) for _ in range(count)],
        )


def count(store: Store, table: str) -> int:
    return store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_maintenance_prunes_old_rows_analyzes_and_vacuums_only_when_the_queue_is_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    clock = Clock(at("03:30"))
    schedule = Schedule(store, schedule_config(tmp_path, log_retention_days=30), rescan=list, now=clock)
    add_log_rows(store, (clock() - timedelta(days=45)).timestamp(), 3000)
    add_log_rows(store, (clock() - timedelta(days=2)).timestamp(), 5)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"a")
    stat = (folder / "a.jpg").stat()
    queue.enqueue(
        store.conn, str(folder / "a.jpg"), str(folder), queue.FileStat(1, stat.st_mtime_ns, stat.st_ino), "probe"
    )
    (running,) = queue.claim(store.conn, "test", ["probe"], 1, 60)

    assert schedule.maintenance()["deferred"] is True  # a job is running: not now
    assert count(store, "events") == 3005

    queue.release(store.conn, running)  # queued, not running: prune and analyze, but no VACUUM
    report = schedule.maintenance()
    assert report["pruned"] == {"events": 3000, "stage_runs": 3000} and report["vacuumed"] is False
    assert count(store, "events") == 5 and count(store, "stage_runs") == 5
    assert store.conn.execute("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0] > 0

    (done,) = queue.claim(store.conn, "test", ["probe"], 1, 60)
    queue.complete(store.conn, done, {"ok": True}, 1.0, None, 60)
    pages_before = store.conn.execute("PRAGMA page_count").fetchone()[0]
    report = schedule.maintenance()
    assert report["vacuumed"] is True and report["free_share_before"] >= 0.1
    assert store.conn.execute("PRAGMA page_count").fetchone()[0] < pages_before
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert json.loads(settings.get(store.conn, "maintenance_last") or "{}")["vacuumed"] is True
    store.close()


def test_periodic_rescan_finds_a_file_the_polling_watcher_has_not_seen(tmp_path: Path, engine_factory: Any) -> None:
    engine = engine_factory(start=False, rescan_minutes=0.05)
    text = engine.config.read_text().replace('mode = "drop"\n', 'mode = "drop"\npolling = true\npoll_interval = 3600\n')
    engine.config.write_text(text + '\n[schedule]\nmaintenance_at = ""\n')
    engine.drop.mkdir(parents=True, exist_ok=True)
    engine.start()
    log_path = engine.data / "logs" / "image-engine.log"
    wait_for(lambda: '"scan_done"' in log_path.read_text(), message="the start-up scan finished")
    Image.new("RGB", (64, 48), (200, 30, 30)).save(engine.drop / "late.jpg", quality=90)
    wait_for(lambda: str(engine.drop / "late.jpg") in engine.job_states(), 30, message="rescan queued the new file")
    engine.stop()
    events = [json.loads(line) for line in log_path.read_text().splitlines()]
    names = [event["event"] for event in events]
    assert "scheduled_rescan" in names and names.count("scan_done") >= 2
    started = next(event for event in events if event["event"] == "schedule_started")
    assert set(started["detail"]) == {"rescan", "retry_failed"}


def test_migration_marks_old_failures_permanent_unless_internal(tmp_path: Path) -> None:
    """Databases from before 0007 did not record the kind of a failure: only internal errors are retried."""
    from daemon.store.schema import migration_scripts

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for name, script in migration_scripts():
        if name < "0007":
            conn.executescript(script)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (name,))
    conn.execute(
        "INSERT INTO files (id, path, root, size, mtime_ns, inode, first_seen, last_seen) VALUES (1, 'a', '/', 1, 1, 1, 0, 0)"
    )
    conn.execute(
        "INSERT INTO files (id, path, root, size, mtime_ns, inode, first_seen, last_seen) VALUES (2, 'b', '/', 1, 1, 2, 0, 0)"
    )
    for file_id, error in ((1, "not an image: truncated"), (2, "internal error: OSError: x")):
        conn.execute(
            "INSERT INTO jobs (file_id, fingerprint, stage, state, error, created_at, updated_at)"
            " VALUES (?, 'f', 'probe', 'failed', ?, 0, 0)",
            (file_id, error),
        )
    conn.close()
    store = Store(path)
    rows = store.conn.execute("SELECT file_id, permanent FROM jobs ORDER BY file_id").fetchall()
    assert [tuple(row) for row in rows] == [(1, 1), (2, 0)]
    store.close()
