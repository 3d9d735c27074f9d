"""One photo's fault stays with that photo: a too-long name fails alone in its metadata batch, and filed names
leave room for every temp file written beside them. Real store, real worker, real exiftool, real long names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from daemon.config import Config, MetadataConfig
from daemon.pipeline import Pipeline
from daemon.pipeline.metadata import MetadataStage
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.pipeline.workers import Control, StageWorker
from daemon.rename.safety import MAX_COMPONENT_BYTES
from daemon.rename.template import parse_template
from daemon.store import Store, queue
from daemon.store.queue import FileStat
from daemon.tools.exiftool import temp_file_of
from tests.metadata_support import copy, keywords_of, tag_result


def queue_for_metadata(store: Store, photo: Path, keyword: str) -> None:
    """The photo's job waits at `metadata` with a recorded tag result, as after a real tag stage."""
    info = photo.stat()
    queue.enqueue(
        store.conn, str(photo), str(photo.parent), FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "tag"
    )
    (job,) = queue.claim(store.conn, "tagger", ["tag"], 1, 60)
    assert queue.complete(store.conn, job, tag_result(keyword), 1.0, "metadata", 60, keep=False)


def metadata_worker(tmp_path: Path, store: Store) -> StageWorker:
    config = Config(data_dir=tmp_path / "data", metadata=MetadataConfig(batch_size=8))
    cache = ReducedCache(tmp_path / "cache")
    stage = MetadataStage(config.metadata, "duplicate", tmp_path / "guard")
    pipeline = Pipeline([stage], cache)
    return StageWorker("files", 0, [stage], pipeline, store, config, Control(), recheck=lambda _: None)


def test_a_254_byte_name_fails_alone_and_its_batch_mates_get_their_keywords(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    folder = tmp_path / "library"
    mates = [copy("labelled/felix_608.jpg", folder, f"mate{index}.jpg") for index in range(3)]
    long_name = copy("labelled/felix_608.jpg", folder, "x" * 250 + ".jpg")
    assert len(long_name.name.encode()) == 254
    for photo in [mates[0], long_name, *mates[1:]]:
        queue_for_metadata(store, photo, "cat")
    worker = metadata_worker(tmp_path, store)
    try:
        assert worker.tick()
    finally:
        worker.pipeline.close()
    jobs = {
        row[0]: (row[1], row[2])
        for row in store.conn.execute(
            "SELECT files.path, jobs.state, jobs.error FROM jobs JOIN files ON files.id = jobs.file_id"
        )
    }
    for mate in mates:
        assert jobs[str(mate)] == ("done", None)
        assert "cat" in keywords_of(mate)
    state, error = jobs[str(long_name)]
    assert state == "failed"
    assert "254 bytes" in error and "too long" in error and re.search("rename .* shorter", error), error
    assert "cat" not in keywords_of(long_name)


def test_a_filed_name_cut_by_the_template_takes_keywords_and_every_temp_name_fits(tmp_path: Path) -> None:
    template = parse_template("{stem}{counter}.{ext}")
    stem = "Très long nom de fichier " * 12  # 300 bytes with accents: cut at a character boundary
    name = template.render({"stem": stem, "ext": "jpg"}, counter=3, placeholder="unknown")[-1]
    assert name.endswith("_3.jpg") and name.startswith("Très long")
    # Everything written beside a photo (and beside its sidecar) must be a legal name too.
    for neighbour in (
        temp_file_of(Path(name)).name,
        temp_file_of(Path(name + ".xmp")).name,
        f".{name}.xmp.image-engine-restore",
        f".{name}.image-engine-guard",
        f"{name}_original",
    ):
        assert len(neighbour.encode()) <= MAX_COMPONENT_BYTES, neighbour
    photo = copy("labelled/felix_608.jpg", tmp_path / "library", name)
    store = Store(tmp_path / "engine.db")
    queue_for_metadata(store, photo, "tabby")
    worker = metadata_worker(tmp_path, store)
    try:
        assert worker.tick()
    finally:
        worker.pipeline.close()
    assert store.conn.execute("SELECT state FROM jobs").fetchone()[0] == "done"
    assert "tabby" in keywords_of(photo)
    assert not os.path.lexists(temp_file_of(photo))
