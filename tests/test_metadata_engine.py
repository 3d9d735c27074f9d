"""The metadata stage inside the engine: its recorder makes the watcher's echo of our own write a no-op.

The store test runs the real stage and the real completion transaction; the engine test needs the tag stage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from daemon.pipeline.base import WorkItem
from daemon.store import Store, queue
from daemon.store.metadata import last_write
from daemon.store.queue import FileStat
from daemon.watch.intake import Intake
from tests.metadata_support import copy, exif, keywords_of, make_stage, tag_result
from tests.support import Engine, wait_for


def file_stat(path: Path) -> FileStat:
    info = os.stat(path)
    return FileStat(info.st_size, info.st_mtime_ns, info.st_ino)


def test_recorded_stat_makes_the_echo_of_our_write_unchanged(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    metadata = make_stage(tmp_path)
    try:
        photo = copy("labelled/felix_605.jpg", tmp_path / "photos")
        assert queue.enqueue(store.conn, str(photo), str(photo.parent), file_stat(photo), "metadata") == "new"
        [job] = queue.claim(store.conn, "test", ["metadata"], 1, 60)
        results = {"tag": tag_result("cat", category="Pets")}
        item = WorkItem(job=job, results=results.get, reduced_loader=lambda _: None)  # type: ignore[arg-type]
        [outcome] = metadata.run_batch([item])
        assert outcome["verified"] and "cat" in keywords_of(photo)
        assert queue.complete(store.conn, job, outcome, 5.0, None, 60, record=metadata.record)

        after = file_stat(photo)
        row = store.conn.execute("SELECT size, mtime_ns, inode FROM files WHERE id = ?", (job.file_id,)).fetchone()
        assert FileStat(*row) == after, "the recorder stored the stat of the rewritten file"
        # The watcher (or a scan) now reports the file the engine just wrote: nothing is queued again.
        assert queue.enqueue(store.conn, str(photo), str(photo.parent), after, "probe") == "unchanged"
        assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        written = last_write(store.conn, job.file_id)
        assert written["target"] == str(photo) and written["verified"] == 1
        assert "cat" in json.loads(written["engine_keywords"])
        # A user's own later edit is a real change and is queued.
        os.system(f"exiftool -q -overwrite_original -XMP-dc:Subject+=mine '{photo}'")
        assert queue.enqueue(store.conn, str(photo), str(photo.parent), file_stat(photo), "probe") == "changed"
    finally:
        metadata.close()
        store.close()


def test_a_look_between_exiftools_write_and_the_mtime_restore_queues_nothing(tmp_path: Path) -> None:
    """The watcher sees exiftool's rename while the stage still has to put back the nanosecond mtime (-P keeps
    whole seconds); by the time the intake compares, the stage has recorded the final stat. Seen in a kill -9 storm:
    the photo went through every stage twice."""
    store = Store(tmp_path / "engine.db")
    metadata = make_stage(tmp_path)
    intake = Intake(store, "probe", settle_seconds=0.2, ignore=[])
    try:
        photo = copy("labelled/felix_605.jpg", tmp_path / "photos")
        os.utime(photo, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
        assert queue.enqueue(store.conn, str(photo), str(photo.parent), file_stat(photo), "metadata") == "new"
        [job] = queue.claim(store.conn, "test", ["metadata"], 1, 60)
        item = WorkItem(job=job, results={"tag": tag_result("cat")}.get, reduced_loader=lambda _: None)  # type: ignore[arg-type]
        [outcome] = metadata.run_batch([item])
        assert queue.complete(store.conn, job, outcome, 5.0, None, 60, record=metadata.record)
        after = file_stat(photo)
        assert after.mtime_ns == 1_600_000_000_123_456_789
        seen_midway = FileStat(after.size, 1_600_000_000_000_000_000, after.inode)

        assert intake.enqueue(str(photo), str(photo.parent), seen_midway) == "unsettled"
        intake.submit(str(photo), str(photo.parent), closed=True)
        intake.settle_once()
        assert intake.pending_count() == 0
        assert store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        assert store.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1
    finally:
        metadata.close()
        store.close()


def test_engine_writes_keywords_into_an_in_place_folder_exactly_once(engine_factory) -> None:
    # format_keywords: this photo's labels all fall below the threshold; its format keyword is the one to write.
    engine: Engine = engine_factory("[tagging]\nenabled = true\nformat_keywords = true\n", start=False)
    engine.config.write_text(engine.config.read_text().replace('mode = "drop"', 'mode = "in-place"'))
    engine.start()  # rename stays off (tests.support)
    photo = copy("labelled/felix_605.jpg", engine.drop)
    wait_for(lambda: engine.job_states().get(str(photo)) == "done", 120, message="the photo is done")
    written = exif(photo, "XMP-dc:Subject", "XMP-imageengine:all")
    assert written["XMP-imageengine:ImageEngineKeywords"], written
    engine_words = [entry.rsplit("=", 1)[0] for entry in written["XMP-imageengine:ImageEngineKeywords"]]
    assert set(engine_words) <= set(written["XMP-dc:Subject"])

    # A full reconcile compares every file with its recorded stat: the rewritten photo is not new or changed.
    result = engine.cli("scan")
    assert result.returncode == 0 and "0 new or changed" in result.stdout, result.stdout + result.stderr
    jobs = engine.query(
        "SELECT COUNT(*) AS n FROM jobs JOIN files ON files.id = jobs.file_id WHERE files.path = ?", (str(photo),)
    )
    runs = engine.query("SELECT COUNT(*) AS n FROM stage_runs WHERE stage = 'metadata'")
    assert jobs[0]["n"] == 1 and runs[0]["n"] == 1
    row = engine.query("SELECT size, mtime_ns, inode FROM files WHERE path = ?", (str(photo),))[0]
    assert FileStat(row["size"], row["mtime_ns"], row["inode"]) == file_stat(photo)


def test_jobs_says_when_keywords_went_to_a_sidecar_because_the_photo_would_not_take_them(tmp_path: Path) -> None:
    from daemon.store.outcomes import sidecar_notes
    from tests.test_metadata import xmp_segment

    store = Store(tmp_path / "engine.db")
    metadata = make_stage(tmp_path)
    try:
        source = copy("photos/Canon_PowerShot_S40.jpg", tmp_path / "photos").read_bytes()
        photo = tmp_path / "photos" / "two_xmp.jpg"
        photo.write_bytes(source[:2] + xmp_segment("first") + xmp_segment("second") + source[2:])
        queue.enqueue(store.conn, str(photo), str(photo.parent), file_stat(photo), "metadata")
        [job] = queue.claim(store.conn, "test", ["metadata"], 1, 60)
        item = WorkItem(job=job, results={"tag": tag_result("cat")}.get, reduced_loader=lambda _: None)  # type: ignore[arg-type]
        [outcome] = metadata.run_batch([item])
        assert queue.complete(store.conn, job, outcome, 5.0, None, 60, record=metadata.record)
        note = sidecar_notes(store.conn, [job.id])[job.id]
        assert note.startswith(f"keywords written to the sidecar {photo.with_suffix('.xmp')}") and "read back" in note
        assert "cat" in keywords_of(photo.with_suffix(".xmp"))
    finally:
        metadata.close()
        store.close()
