"""Thumbnails: made while ingesting, and for photos done before (none on disk) in the background after a start.

The real engine process; the thumbnails are files in the data folder, named by the photo's content hash.
"""

from __future__ import annotations

import shutil

from tests.support import Engine, copy_in, corpus, wait_for

PHOTOS = ["photos/Apple iPhone 4.jpg", "labelled/skimage_coffee.png"]


def test_photos_without_thumbnails_get_them_in_the_background_after_a_start(engine_factory) -> None:
    engine: Engine = engine_factory()
    copy_in([corpus() / name for name in PHOTOS], engine.drop)
    engine.wait_idle(len(PHOTOS))
    hashes = [row["sha256"] for row in engine.query("SELECT sha256 FROM files WHERE present = 1")]
    thumbs = [engine.data / "thumbs" / sha[:2] / f"{sha}-320.webp" for sha in hashes]
    assert len(thumbs) == len(PHOTOS) and all(path.is_file() for path in thumbs)  # the hash stage made them

    assert engine.stop() == 0
    shutil.rmtree(engine.data / "thumbs")  # as if these photos were done before the review app existed
    engine.start()
    wait_for(lambda: all(path.is_file() for path in thumbs), 30, message="thumbnails made in the background")
    assert engine.status()["jobs"]["queued"] == 0  # nothing was processed again for it
