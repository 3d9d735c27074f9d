"""The SQLite job queue on a real database file: idempotent enqueue, leases, retries, waiting."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

from daemon.store import Store, queue, records
from daemon.store.queue import FileStat

STAGES = ["probe", "hash"]


def make_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "q.db")


def add(store: Store, name: str, size: int = 10, mtime: int = 1, inode: int = 1, **kw: object) -> str:
    return queue.enqueue(store.conn, f"/photos/{name}", "/photos", FileStat(size, mtime, inode), "probe", **kw)


def test_enqueue_is_idempotent_and_notices_changes(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert add(store, "a.jpg") == "new"
    assert add(store, "a.jpg") == "unchanged"
    assert queue.counts(store.conn)["queued"] == 1
    assert add(store, "a.jpg", size=11, mtime=2) == "changed"
    assert queue.counts(store.conn)["queued"] == 1  # the older queued job was superseded
    rows = store.conn.execute("SELECT state FROM jobs ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["superseded", "queued"]


def test_claim_leases_and_expired_leases_are_taken_over(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    for index in range(5):
        add(store, f"{index}.jpg", inode=index)
    first = queue.claim(store.conn, "w1", ["probe"], 3, lease_seconds=10, now=100)
    assert len(first) == 3
    second = queue.claim(store.conn, "w2", ["probe"], 10, lease_seconds=10, now=105)
    assert len(second) == 2 and not {job.id for job in first} & {job.id for job in second}
    taken_over = queue.claim(store.conn, "w4", ["probe"], 10, lease_seconds=10, now=200)
    assert {job.id for job in first} <= {job.id for job in taken_over}
    assert not queue.complete(store.conn, first[0], {}, 1.0, "hash", 10)  # w1 lost its lease


def test_complete_advances_and_records_in_one_step(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    (job,) = queue.claim(store.conn, "w", ["probe"], 1, 60)
    assert queue.complete(store.conn, job, {"width": 4}, 2.0, "hash", 60, record=records.record_probe)
    assert tuple(store.conn.execute("SELECT stage, state FROM jobs").fetchone()) == ("hash", "running")
    assert store.conn.execute("SELECT data FROM results WHERE stage = 'probe'").fetchone()[0] == '{"width": 4}'
    hashes = {"sha256": "ab", "phash": "0" * 16, "dhash": "f" * 16}
    assert queue.complete(store.conn, job, hashes, 1.0, None, 60, record=records.record_hash)
    assert queue.counts(store.conn)["done"] == 1
    media = store.conn.execute("SELECT phash, dhash FROM media").fetchone()
    assert tuple(media) == (0, -1)  # 0xffff... stored as signed 64-bit


def test_failures_retry_with_backoff_then_stay_failed(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    verdicts = []
    now = 1000.0
    for _ in range(3):
        (job,) = queue.claim(store.conn, "w", ["probe"], 1, 60, now=now)
        verdicts.append(
            queue.fail(store.conn, job, "locked", permanent=False, max_attempts=3, backoff_seconds=10, now=now)
        )
        assert queue.claim(store.conn, "w", ["probe"], 1, 60, now=now + 1) == []  # backing off
        now += 100
    assert verdicts == ["retry", "retry", "failed"]
    assert tuple(store.conn.execute("SELECT attempts, error FROM jobs").fetchone()) == (3, "locked")
    assert add(store, "a.jpg") == "unchanged"  # a failed file is not touched again until it changes


def test_waiting_never_counts_as_failure(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    for step in range(5):
        (job,) = queue.claim(store.conn, "w", ["probe"], 1, 60, now=step * 100)
        assert queue.wait(store.conn, job, "model missing", retry_after=10, now=step * 100)
    row = store.conn.execute("SELECT state, attempts, wait_reason FROM jobs").fetchone()
    assert tuple(row) == ("waiting", 0, "model missing")
    assert queue.mark_stage_waiting(store.conn, "probe", "quiet hours", 5) == 1


def test_change_while_running_is_rechecked_after(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    (job,) = queue.claim(store.conn, "w", ["probe"], 1, 60)
    assert add(store, "a.jpg", size=99, mtime=5) == "deferred"
    queue.complete(store.conn, job, {}, 1, None, 60)
    assert queue.take_dirty(store.conn, job.file_id) == "/photos/a.jpg"
    assert queue.take_dirty(store.conn, job.file_id) is None


def test_same_size_new_mtime_is_confirmed_by_content(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    store.conn.execute("UPDATE files SET sha256 = 'abc'")
    assert add(store, "a.jpg", mtime=9) == "doubt"
    assert add(store, "a.jpg", mtime=9, content_sha256="abc") == "unchanged"
    assert add(store, "a.jpg", mtime=10, content_sha256="def") == "changed"


def _claim_all(path: str, owner: str, out: multiprocessing.Queue) -> None:
    store = Store(Path(path))
    claimed = []
    while True:
        jobs = queue.claim(store.conn, owner, ["probe"], 7, 60)
        if not jobs:
            break
        claimed += [job.id for job in jobs]
    out.put(claimed)


def test_no_double_claims_across_processes(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    for index in range(400):
        add(store, f"{index}.jpg", inode=index)
    out: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_claim_all, args=(str(store.path), f"p{i}", out)) for i in range(4)]
    for worker in workers:
        worker.start()
    claimed = [job for _ in workers for job in out.get(timeout=60)]
    for worker in workers:
        worker.join()
    assert len(claimed) == 400 and len(set(claimed)) == 400


def test_database_is_wal(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw = sqlite3.connect(store.path)
    assert {r[0] for r in raw.execute("SELECT name FROM schema_migrations")} >= {"0001_core.sql"}


def test_advance_to_another_pool_queues_the_job_for_it_at_once(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    (job,) = queue.claim(store.conn, "cpu-worker", ["probe"], 1, 300)
    assert queue.complete(store.conn, job, {}, 1.0, "tag", 300, keep=False)
    (taken,) = queue.claim(store.conn, "gpu-worker", ["tag"], 1, 300)
    assert taken.id == job.id and taken.stage == "tag"
    assert taken.claims == 1  # claims count deaths at this stage: passing through pools is not a crash


def test_crashes_count_per_stage_not_across_the_pipeline(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add(store, "a.jpg")
    stages = ["probe", "second", "third", "fourth", "fifth", "last"]  # each in its own pool
    for stage, following in zip(stages, [*stages[1:], None], strict=True):
        for _ in range(queue.MAX_CLAIMS - 1):  # the engine killed at this stage, again and again
            queue.claim(store.conn, "w", [stage], 1, 300)
            queue.recover_orphans(store.conn)
        (job,) = queue.claim(store.conn, "w", [stage], 1, 300)
        assert job.claims == queue.MAX_CLAIMS, stage  # still under the poison limit at every stage
        assert queue.complete(store.conn, job, {}, 1.0, following, 300, keep=False)
    assert store.conn.execute("SELECT state FROM jobs").fetchone()[0] == "done"


def test_claim_takes_the_oldest_jobs_across_stages_and_parked_ones_when_due(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    for index in range(4):
        add(store, f"{index}.jpg", inode=index)
    (oldest,) = queue.claim(store.conn, "w", ["probe"], 1, 60, now=10)
    assert queue.complete(store.conn, oldest, {}, 1.0, "hash", 60, now=10, keep=False)  # now queued at hash
    (second,) = queue.claim(store.conn, "w", ["probe"], 1, 60, now=10)
    assert queue.wait(store.conn, second, "model missing", retry_after=100, now=10)
    taken = queue.claim(store.conn, "w", ["probe", "hash"], 2, 600, now=20)
    assert [(job.id, job.stage) for job in taken] == [(oldest.id, "hash"), (second.id + 1, "probe")]
    assert [job.id for job in queue.claim(store.conn, "w", ["probe"], 5, 600, now=50)] == [second.id + 2]
    assert [job.id for job in queue.claim(store.conn, "w", ["probe"], 5, 60, now=111)] == [second.id]  # due again


def test_claim_reads_the_backlog_in_index_order_without_sorting_it(tmp_path: Path) -> None:
    """A claim must cost the same with a million jobs queued: no query of it may sort the whole backlog."""
    store = make_store(tmp_path)
    for sql in queue._CANDIDATES:
        plan = " | ".join(row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", ("probe", 0.0, 16)))
        assert "TEMP B-TREE" not in plan and "SCAN jobs" not in plan, plan


def test_a_file_gone_before_its_job_ran_is_missing_not_failed(tmp_path: Path) -> None:
    from daemon.config import Config
    from daemon.pipeline import Pipeline
    from daemon.pipeline.probe import ProbeStage
    from daemon.pipeline.reduced_cache import ReducedCache
    from daemon.pipeline.workers import Control, StageWorker

    store = make_store(tmp_path)
    photo = tmp_path / "gone.jpg"
    photo.write_bytes(b"\xff\xd8 soon gone")
    info = photo.stat()
    queue.enqueue(store.conn, str(photo), str(tmp_path), FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "probe")
    photo.unlink()  # e.g. moved away between the watcher's event and the probe
    cache = ReducedCache(tmp_path / "cache")
    pipeline = Pipeline([ProbeStage(384, 10**8, cache)], cache)
    worker = StageWorker(
        "cpu", 0, pipeline.stages, pipeline, store, Config(data_dir=tmp_path), Control(), recheck=lambda p: None
    )
    assert worker.tick()
    assert queue.counts(store.conn)["failed"] == 0
    job = store.conn.execute("SELECT state, error FROM jobs").fetchone()
    assert tuple(job) == ("superseded", "file disappeared before it could be read")
    assert store.conn.execute("SELECT present FROM files").fetchone()[0] == 0


def test_restat_records_only_the_file_as_it_is_now(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8 first")
    info = photo.stat()
    seen = FileStat(info.st_size, info.st_mtime_ns, info.st_ino)
    photo.write_bytes(b"\xff\xd8 written again since")
    assert queue.enqueue(store.conn, str(photo), str(tmp_path), seen, "probe", restat=True) == "unsettled"
    photo.unlink()
    assert queue.enqueue(store.conn, str(photo), str(tmp_path), seen, "probe", restat=True) == "gone"
    assert store.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 0
    assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_intake_settles_again_a_file_that_changed_after_its_look(tmp_path: Path) -> None:
    from daemon.watch.intake import Intake

    store = make_store(tmp_path)
    intake = Intake(store, "probe", settle_seconds=0.2, ignore=[])
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8 first")
    look_then_write = intake.enqueue_many

    def written_after_the_look(entries: list) -> list:
        photo.write_bytes(b"\xff\xd8 written again after the intake looked")
        intake.enqueue_many = look_then_write  # type: ignore[method-assign]
        return look_then_write(entries)

    intake.enqueue_many = written_after_the_look  # type: ignore[method-assign]
    intake.submit(str(photo), str(tmp_path), closed=True)
    intake.settle_once()
    assert intake.pending_count() == 1 and queue.counts(store.conn)["queued"] == 0
    os.utime(photo, (1_600_000_000, 1_600_000_000))  # long quiet: settled at the next look
    intake.settle_once()
    assert intake.pending_count() == 0
    [row] = store.conn.execute("SELECT size FROM files").fetchall()
    assert row[0] == photo.stat().st_size and queue.counts(store.conn)["queued"] == 1
