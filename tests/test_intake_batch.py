"""A batch of the intake gives each file the outcome it would get alone: new, unchanged, changed, moved, hashed on
doubt, companions with their photo; a name SQLite cannot hold is refused alone and said once.

Real SQLite, real files, the real intake; one settle queues every kind of arrival together.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from daemon.pipeline.hashing import sha256_file
from daemon.store import Store, queue
from daemon.store.queue import FileStat
from daemon.watch.intake import Intake


def stat_of(path: Path) -> FileStat:
    info = path.stat()
    return FileStat(info.st_size, info.st_mtime_ns, info.st_ino)


def jobs_by_name(store: Store) -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    rows = store.conn.execute(
        "SELECT files.path, jobs.id, jobs.state FROM jobs JOIN files ON files.id = jobs.file_id ORDER BY jobs.id"
    )
    for path, job, state in rows:
        found.setdefault(Path(path).name, []).append((job, state))
    return found


def test_one_batch_gives_every_kind_of_arrival_its_own_outcome(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "engine.db")
    intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
    folder = tmp_path / "drop"
    folder.mkdir()
    known = {name: folder / name for name in ("same.jpg", "changed.jpg", "moved_from.jpg", "doubt.jpg")}
    for name, path in known.items():
        path.write_bytes(b"\xff\xd8 known " + name.encode())
        assert queue.enqueue(store.conn, str(path), str(folder), stat_of(path), "probe") == "new"
    store.conn.execute("UPDATE jobs SET state = 'done'")
    store.conn.execute(
        "UPDATE files SET sha256 = ? WHERE path = ?", (sha256_file(known["doubt.jpg"]), str(known["doubt.jpg"]))
    )
    before = jobs_by_name(store)
    known["changed.jpg"].write_bytes(b"\xff\xd8 rewritten, longer than before")
    os.rename(known["moved_from.jpg"], folder / "moved_to.jpg")  # we saw only this end of the move
    doubt = known["doubt.jpg"]
    doubt.write_bytes(doubt.read_bytes().replace(b"known", b"KNOWN"))  # same size, new mtime, other content
    odd = ['new_3 "quoted" \\ back\tslash.jpg', "new_4\nline ünï 写真 \u2028.jpg"]  # JSON must escape these
    for index, name in enumerate(["new_0.jpg", "new_1.jpg", "new_2.jpg", *odd]):
        (folder / name).write_bytes(b"\xff\xd8 new " + bytes([index]))
    (folder / "new_0.xmp").write_text("<x:xmpmeta/>")  # a sidecar: settles with its photo, gets no job
    undecodable = os.fsdecode(os.fsencode(str(folder)) + b"/\xff\xfe.jpg")
    shutil.copyfile(folder / "new_1.jpg", os.fsencode(undecodable))

    caplog.set_level(logging.INFO, logger="image_engine.intake")
    for name in sorted(os.listdir(folder)):
        intake.submit(str(folder / name), str(folder), closed=True)
    intake.submit(undecodable, str(folder), closed=True)  # a watcher reports it again: said once only
    intake.settle_once()

    assert intake.pending_count() == 0
    after = jobs_by_name(store)
    assert after["same.jpg"] == before["same.jpg"]  # unchanged: no new job
    assert after["moved_to.jpg"] == before["moved_from.jpg"] and "moved_from.jpg" not in after  # one row, moved
    for name in ("changed.jpg", "doubt.jpg"):  # a new version: a new job; the old one keeps its outcome
        assert after[name][0] == before[name][0] and after[name][1][1] == "queued" and len(after[name]) == 2
    new = sorted(name for name in after if name.startswith("new_"))
    assert new == ["new_0.jpg", "new_1.jpg", "new_2.jpg", *odd] and all(after[name][0][1] == "queued" for name in new)
    assert "new_0.xmp" not in after and len(after) == 9
    assert store.conn.execute("SELECT COUNT(*) FROM files WHERE path LIKE '%.xmp'").fetchone()[0] == 0

    queued = {(r.path, r.job, r.detail) for r in caplog.records if getattr(r, "event", "") == "queued"}
    expected = {(str(folder / name), jobs[-1][0], "new") for name, jobs in after.items() if name.startswith("new_")}
    expected |= {(str(folder / name), after[name][1][0], "changed") for name in ("changed.jpg", "doubt.jpg")}
    assert queued == expected  # each log line names the job the store holds for that file
    moves = [r.path for r in caplog.records if getattr(r, "event", "") == "moved"]
    assert moves == [str(folder / "moved_to.jpg")]
    refused = [r for r in caplog.records if getattr(r, "event", "") == "intake_error"]
    assert [(r.path, r.levelname) for r in refused] == [(undecodable, "ERROR")]
    assert "not valid UTF-8" in refused[0].getMessage()
    store.close()


def test_a_name_that_is_not_utf8_fails_nobody_else_in_its_batch(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
    folder = os.fsencode(tmp_path)
    names = [b"a.jpg", b"\xff\xfe caf\xe9.jpg", b"c.jpg"]  # the middle one: Latin-1 bytes from an old archive
    for name in names:
        with open(folder + b"/" + name, "wb") as handle:
            handle.write(b"\xff\xd8" + name)
    for name in names:
        intake.submit(os.fsdecode(folder + b"/" + name), str(tmp_path), closed=True)
    intake.settle_once()  # before: UnicodeEncodeError out of the batch (and out of the intake thread)
    paths = [row[0] for row in store.conn.execute("SELECT path FROM files ORDER BY id")]
    assert paths == [str(tmp_path / "a.jpg"), str(tmp_path / "c.jpg")]
    assert queue.counts(store.conn)["queued"] == 2 and intake.pending_count() == 0
    store.close()


def test_a_database_that_fills_up_mid_batch_loses_no_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
    folder = tmp_path / "drop"
    folder.mkdir()
    for index in range(300):
        (folder / f"{index:04d} {'long name ' * 10}.jpg").write_bytes(b"\xff\xd8" + index.to_bytes(2, "big"))
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 3}")  # SQLite's own "database or disk is full"
    for path in sorted(folder.iterdir()):
        intake.submit(str(path), str(folder), closed=True)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        intake.settle_once()
    committed = store.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    assert 0 < committed < 300 and intake.pending_count() == 300 - committed  # what did not fit is still pending
    store.conn.execute("PRAGMA max_page_count = 1000000")  # space again
    intake.settle_once()
    assert intake.pending_count() == 0 and queue.counts(store.conn)["queued"] == 300
    assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 300  # each file queued once
    store.close()


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_a_big_batch_says_how_many_files_it_queued_in_one_line_and_each_file_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    store = Store(tmp_path / "engine.db")
    intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
    folder = tmp_path / "card" / "DCIM"
    folder.mkdir(parents=True)
    names = [f"IMG_{index:04d}.jpg" for index in range(60)]
    for index, name in enumerate(names):
        (folder / name).write_bytes(b"\xff\xd8" + index.to_bytes(2, "big"))
    caplog.set_level(level, logger="image_engine.intake")
    for name in names:
        intake.submit(str(folder / name), str(folder), closed=True)
    intake.settle_once()

    summaries = [r for r in caplog.records if getattr(r, "event", "") == "queued_many"]
    assert [(r.levelname, r.getMessage(), r.path) for r in summaries] == [("INFO", "queued 60 files", str(folder))]
    assert summaries[0].detail == {
        "new": 60,
        "changed": 0,
        "first": str(folder / names[0]),
        "last": str(folder / names[-1]),
    }
    per_file = {(r.path, r.job) for r in caplog.records if getattr(r, "event", "") == "queued"}
    jobs = {str(folder / name): found[0][0] for name, found in jobs_by_name(store).items()}
    assert per_file == (set(jobs.items()) if level == logging.DEBUG else set())  # at DEBUG, each names its job
    assert all(r.levelname == "DEBUG" for r in caplog.records if getattr(r, "event", "") == "queued")
    store.close()
