"""Quality through the real engine: a burst's sharpest frame carries `best of burst` in its file (and loses it to a
sharper frame arriving later), `search --min-quality` filters by the score, and the keeper rule `best_quality`
keeps the sharp copy over a bigger blurred one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image, ImageFilter

from daemon.analyzers.quality import measure
from daemon.dedup.grouping import Facts, choose_keeper
from tests.metadata_support import exif
from tests.support import Engine, corpus

SOURCE = "photos/Canon EOS 7D.jpg"  # Canon EOS 7D, DateTimeOriginal 2010:12:12 12:41:35


def frame(target: Path, blur: float, taken: str, scale: float = 1.0) -> Path:
    """The corpus photo blurred (a shaky frame) and/or enlarged, keeping its EXIF, with this capture time."""
    image = Image.open(corpus() / SOURCE)
    exif_bytes = image.info["exif"]
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    image.save(target, quality=92, exif=exif_bytes)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-DateTimeOriginal={taken}", str(target)], check=True)
    return target


def subjects(path: Path) -> list[str]:
    value = exif(path, "XMP-dc:Subject").get("XMP-dc:Subject", [])
    return [value] if isinstance(value, str) else list(value)


def test_quality_falls_with_blur_and_flatness() -> None:
    sharp = Image.open(corpus() / SOURCE).convert("RGB")
    scores = [measure(sharp.filter(ImageFilter.GaussianBlur(radius)))["quality"] for radius in (0, 1, 2, 4)]
    assert scores == sorted(scores, reverse=True) and scores[0] - scores[-1] > 35, scores
    flat = Image.new("RGB", (400, 300), (128, 128, 128))
    assert measure(flat)["quality"] == 0.0


def test_a_burst_marks_its_best_frame_in_the_file_and_the_mark_moves_to_a_sharper_late_frame(
    engine_factory, tmp_path: Path
) -> None:
    engine: Engine = engine_factory(start=False)
    engine.drop.mkdir(parents=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    soft = frame(staging / "IMG_0002.jpg", 1.5, "2010:12:12 12:41:36")
    softer = frame(staging / "IMG_0003.jpg", 3.0, "2010:12:12 12:41:37")
    sharp = frame(staging / "IMG_0001.jpg", 0, "2010:12:12 12:41:35")
    elsewhere = frame(staging / "IMG_0100.jpg", 0, "2010:12:12 13:00:00")  # same camera, twenty minutes later
    engine.start()
    for source in (soft, softer, elsewhere):
        source.rename(engine.drop / source.name)
    engine.wait_idle(3, timeout=120)
    soft, softer, elsewhere = (engine.drop / name for name in ("IMG_0002.jpg", "IMG_0003.jpg", "IMG_0100.jpg"))
    assert "best of burst" in subjects(soft)
    assert "best of burst" not in subjects(softer)
    assert "best of burst" not in subjects(elsewhere)

    sharp.rename(engine.drop / sharp.name)
    sharp = engine.drop / sharp.name
    engine.wait_idle(4, timeout=120)
    assert set(engine.job_states().values()) == {"done"}, engine.job_states()
    assert "best of burst" in subjects(sharp)
    assert "best of burst" not in subjects(soft)  # taken back from the file that had it

    shown = engine.cli("tags", str(soft)).stdout
    assert f"burst of 3 frames; best of burst (highest quality): {sharp}" in shown, shown
    assert "quality: " in shown
    best = json.loads(engine.cli("search", 'keyword:"best of burst"', "--json").stdout)["results"]
    assert [hit["path"] for hit in best] == [str(sharp)]
    scores = {
        row["path"]: row["score"]
        for row in engine.query(
            "SELECT files.path, photo_scores.score FROM photo_scores JOIN files ON files.id = photo_scores.file_id"
            " WHERE analyzer = 'quality'"
        )
    }
    threshold = (scores[str(soft)] + scores[str(softer)]) / 2
    found = json.loads(engine.cli("search", "--min-quality", str(threshold), "--json").stdout)["results"]
    assert sorted(hit["path"] for hit in found) == sorted([str(sharp), str(soft), str(elsewhere)])
    refused = engine.cli("search", "--min-quality", "140")
    assert refused.returncode != 0 and "not a quality score" in refused.stdout + refused.stderr
    assert engine.stop() == 0


def test_keeper_rule_best_quality_keeps_the_sharp_copy_over_a_bigger_blurred_one(engine_factory, tmp_path) -> None:
    engine: Engine = engine_factory('[dedup]\nkeeper = ["best_quality", "pixels"]\n', start=False)
    engine.drop.mkdir(parents=True)
    sharp = frame(tmp_path / "original.jpg", 0, "2010:12:12 12:41:35")
    bigger = frame(tmp_path / "upscaled_soft.jpg", 2.0, "2010:12:12 12:41:35", scale=1.5)
    engine.start()
    for source in (bigger, sharp):
        source.rename(engine.drop / source.name)
    engine.wait_idle(2, timeout=120)
    rows = engine.query(
        "SELECT files.path, keeper_reason FROM dedup_groups JOIN files ON files.id = dedup_groups.keeper"
    )
    assert [row["path"] for row in rows] == [str(engine.drop / "original.jpg")]
    assert rows[0]["keeper_reason"].startswith("best quality (score ")
    assert engine.stop() == 0


def test_best_quality_prefers_a_measured_copy_and_says_by_how_much() -> None:
    blurred = Facts(id=1, path="/a.jpg", size=900, width=1200, height=900, quality=31.5)
    sharp = Facts(id=2, path="/b.jpg", size=500, width=600, height=450, quality=82.0)
    unmeasured = Facts(id=3, path="/c.jpg", size=500, width=600, height=450)
    assert choose_keeper([blurred, sharp], ["best_quality", "pixels"]) == (2, "best quality (score 82 vs 31.5)")
    assert choose_keeper([blurred, sharp], ["pixels", "best_quality"])[0] == 1
    assert choose_keeper([unmeasured, blurred], ["best_quality"]) == (1, "best quality (score 31.5 vs not measured)")
