"""Watching for real: complete files only, temp files ignored, user moves followed, restarts reconciled."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from daemon.watch.filters import group_key, kind_of
from tests.support import Engine, copy_in, corpus, wait_for

# How long to watch for something that must not happen: settle time (0.3-0.5 s) plus an intake poll, with margin.
QUIET_SECONDS = 1.0


def test_filters_ignore_temp_and_partial_files() -> None:
    ignored = [
        "a.jpg.part",
        "b.crdownload",
        "c.tmp",
        "~$d.jpg",
        ".hidden.jpg",
        "e.jpg_exiftool_tmp",
        "f.jpg_original",
        "notes.txt",
    ]
    assert [kind_of(Path("/p") / name) for name in ignored] == [None] * len(ignored)
    assert kind_of(Path("/p/.thumbnails/x.jpg")) is None
    assert kind_of(Path("/p/IMG_1.JPG")) == "image"
    assert kind_of(Path("/p/IMG_1.CR2")) == "image"
    assert kind_of(Path("/p/IMG_1.xmp")) == "companion"
    assert group_key(Path("/p/IMG_1.CR2")) == group_key(Path("/p/IMG_1.jpg")) == group_key(Path("/p/img_1.CR2.xmp"))
    # The intake hands the watcher's strings straight in: the same answers as for paths.
    names = [
        *ignored,
        ".thumbnails/x.jpg",
        "a/.b/c.jpg",
        "a/../c.jpg",
        "IMG_1.JPG",
        "IMG_1.xmp",
        ".jpg",
        "x.",
        "new\nline.jpg",
    ]
    assert [kind_of(f"/p/{name}") for name in names] == [kind_of(Path("/p") / name) for name in names]
    assert group_key("/p/IMG_1.CR2") == group_key("/p/img_1.CR2.xmp") == group_key(Path("/p/IMG_1.jpg"))


def test_slow_chunked_copy_is_processed_once_after_it_is_whole(engine_factory) -> None:
    engine: Engine = engine_factory(settle_seconds=0.5)
    source = corpus() / "photos" / "Apple iPhone 5.jpg"
    data = source.read_bytes()
    target = engine.drop / "slow.jpg"
    with open(target, "wb") as handle:
        chunk = len(data) // 8 + 1
        for start in range(0, len(data), chunk):
            handle.write(data[start : start + chunk])
            handle.flush()
            time.sleep(0.4)  # slower than the settle time: only the close says it is complete
    wait_for(lambda: engine.job_states().get(str(target)) == "done", 30)
    time.sleep(QUIET_SECONDS)  # a non-event: a second job for the chunks would be queued by now, none may be
    rows = engine.query("SELECT state FROM jobs")
    assert [row["state"] for row in rows] == ["done"]
    assert engine.query("SELECT size FROM files")[0]["size"] == len(data)


def test_temp_files_are_ignored_and_a_finished_download_is_processed(engine_factory) -> None:
    engine: Engine = engine_factory()
    partial = engine.drop / "photo.jpg.crdownload"
    shutil.copy2(corpus() / "labelled" / "Nikon_D70.jpg", partial)
    (engine.drop / ".DS_Store").write_bytes(b"junk")
    partial.rename(engine.drop / "photo.jpg")
    wait_for(lambda: engine.job_states().get(str(engine.drop / "photo.jpg")) == "done", 20)
    assert len(engine.query("SELECT * FROM files")) == 1


def test_user_move_is_followed_without_reprocessing_and_delete_marks_missing(engine_factory) -> None:
    engine: Engine = engine_factory()
    copy_in([corpus() / "labelled" / "Nikon_D70.jpg"], engine.drop)
    engine.wait_idle(1)
    (engine.drop / "sub").mkdir()
    os.rename(engine.drop / "Nikon_D70.jpg", engine.drop / "sub" / "renamed.jpg")
    wait_for(lambda: engine.query("SELECT path FROM files")[0]["path"] == str(engine.drop / "sub" / "renamed.jpg"), 10)
    time.sleep(QUIET_SECONDS)  # a non-event: the move's later events would queue a second job by now
    assert len(engine.query("SELECT * FROM jobs")) == 1  # no second job
    (engine.drop / "sub" / "renamed.jpg").unlink()
    wait_for(lambda: engine.query("SELECT present FROM files")[0]["present"] == 0, 10)
    assert engine.status()["files"] == 0


def test_restart_reconciles_what_changed_while_down(engine_factory) -> None:
    engine: Engine = engine_factory()
    photos = sorted((corpus() / "labelled").glob("felix_1*.jpg"))[:4]
    copy_in(photos, engine.drop)
    engine.wait_idle(4)
    assert engine.stop() == 0
    added = copy_in([corpus() / "labelled" / "Nikon_D70.jpg"], engine.drop)[0]
    removed = engine.drop / photos[0].name
    removed.unlink()
    changed = engine.drop / photos[1].name
    shutil.copy2(corpus() / "labelled" / "felix_202.jpg", changed)
    touched = engine.drop / photos[2].name
    os.utime(touched, (time.time() + 5, time.time() + 5))  # same bytes, new mtime: not a change
    os.utime(changed, (time.time() + 5, time.time() + 5))
    engine.start()
    wait_for(lambda: engine.status()["jobs"]["done"] == 6, 30)
    jobs = engine.query(
        "SELECT files.path, COUNT(*) AS n FROM jobs JOIN files ON files.id = jobs.file_id"
        " WHERE jobs.state = 'done' GROUP BY files.path"
    )
    counts = {Path(row["path"]).name: row["n"] for row in jobs}
    assert counts[added.name] == 1
    assert counts[changed.name] == 2
    assert counts[touched.name] == 1
    assert engine.status()["files"] == 4
    missing = engine.query("SELECT present FROM files WHERE path = ?", (str(removed),))
    assert missing[0]["present"] == 0


def test_scan_command_reports_progress_and_counts(engine_factory) -> None:
    engine: Engine = engine_factory()
    engine.stop()
    copy_in(sorted((corpus() / "labelled").glob("felix_2*.jpg"))[:5], engine.drop)
    engine.start()
    engine.wait_idle(5)
    result = engine.cli("scan")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "scanned 5 file(s): 0 new or changed, 0 missing"
    outside = engine.cli("scan", str(engine.folder))
    assert outside.returncode == 1 and "not inside a watched folder" in outside.stderr
