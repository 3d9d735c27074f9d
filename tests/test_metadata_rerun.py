"""The metadata stage run again after the engine died between its write and its record (kill -9).

The store then looks exactly as the restart finds it: the job back in the queue at metadata, the photo rewritten.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from daemon.pipeline.base import WorkItem
from daemon.store import Store, queue
from daemon.store.queue import FileStat
from tests.metadata_support import copy, exif, make_stage, tag_result


def file_stat(path: Path) -> FileStat:
    info = os.stat(path)
    return FileStat(info.st_size, info.st_mtime_ns, info.st_ino)


def work(job: queue.Job, results: dict[str, Any]) -> WorkItem:
    return WorkItem(job=job, results=results.get, reduced_loader=lambda _: None)  # type: ignore[arg-type]


def test_a_photo_written_before_the_engine_died_is_recorded_by_the_run_after_the_restart(tmp_path: Path) -> None:
    """A category and no keyword (a small photo the model is unsure of): the rerun finds the file up to date, and
    must still record its stat, or every later scan takes the finished photo for a new version (a second job)."""
    store = Store(tmp_path / "engine.db")
    metadata = make_stage(tmp_path)
    try:
        photo = copy("labelled/felix_605.jpg", tmp_path / "photos")
        root = str(photo.parent)
        assert queue.enqueue(store.conn, str(photo), root, file_stat(photo), "metadata") == "new"
        results = {"tag": tag_result(category="Pets")}
        [job] = queue.claim(store.conn, "killed", ["metadata"], 1, 60)
        [outcome] = metadata.run_batch([work(job, results)])
        assert outcome["written"] and outcome["engine_keywords"] == []
        # kill -9 here: the photo is written, its record never committed. The restart:
        assert queue.recover_orphans(store.conn) == 1
        [job] = queue.claim(store.conn, "restarted", ["metadata"], 1, 60)
        [outcome] = metadata.run_batch([work(job, results)])
        assert outcome["reason"] == "already up to date"
        assert queue.complete(store.conn, job, outcome, 5.0, None, 60, record=metadata.record)

        assert exif(photo, "XMP-imageengine:ImageEngineCategory")["XMP-imageengine:ImageEngineCategory"] == ["Pets"]
        # A scan after the job is done (the next start) compares the photo with its record: nothing new.
        assert queue.enqueue(store.conn, str(photo), root, file_stat(photo), "probe") == "unchanged"
        jobs = store.conn.execute("SELECT stage, state FROM jobs").fetchall()
        assert [tuple(row) for row in jobs] == [("metadata", "done")]  # before: a second job, queued at probe
    finally:
        metadata.close()
        store.close()
