"""The probe and hash stages on real files of every format in the corpus, and EXIF orientation."""

from __future__ import annotations

from pathlib import Path

import imagehash
import pytest

from daemon.errors import PermanentError
from daemon.pipeline.base import WorkItem
from daemon.pipeline.hashing import HashStage
from daemon.pipeline.probe import ProbeStage
from daemon.store.queue import Job
from tests.support import corpus


def run_stages(path: Path, cache: Path) -> tuple[dict, dict, WorkItem]:
    job = Job(1, 1, str(path), str(path.parent), "", "probe", 0, 1, "test")
    item = WorkItem(job=job, results=lambda stage: None, reduced_loader=lambda item: None)  # type: ignore[arg-type]
    probed = ProbeStage(384, 200_000_000, cache).run(item)
    hashed = HashStage().run(item)
    return probed, hashed, item


def test_every_corpus_photo_format_probes(tmp_path: Path) -> None:
    photos = sorted((corpus() / "photos").iterdir())
    formats = set()
    for photo in photos:
        probed, hashed, item = run_stages(photo, tmp_path)
        formats.add(probed["format"])
        assert probed["width"] > 0 and probed["height"] > 0
        assert item.reduced().mode == "RGB" and max(item.reduced().size) <= 2.5 * 384
        assert len(hashed["phash"]) == 16 and len(hashed["sha256"]) == 64
    assert {"JPEG", "PNG", "WEBP", "TIFF", "GIF", "HEIF", "AVIF"} <= formats, formats


def test_all_eight_orientations_reduce_to_the_same_upright_picture(tmp_path: Path) -> None:
    files = sorted((corpus() / "orientation").glob("*.jpg"))
    assert len(files) == 9
    hashes = {}
    for path in files:
        probed, hashed, item = run_stages(path, tmp_path)
        assert item.reduced().size == (900, 600), path.name  # landscape once oriented
        hashes[path.name] = imagehash.hex_to_hash(hashed["phash"])
    reference = hashes["Landscape_0.jpg"]
    assert max(reference - value for value in hashes.values()) <= 6, {k: reference - v for k, v in hashes.items()}


def test_cached_reduced_copy_is_written_for_later_stages(tmp_path: Path) -> None:
    run_stages(corpus() / "labelled" / "Nikon_D70.jpg", tmp_path)
    assert (tmp_path / "reduced" / "01" / "1.jpg").exists()


@pytest.mark.parametrize(
    "name", ["beach.jpg", "corrupt_boxes.heif", "fuzzed_crash-2b10c204.tif", "african_elephants_truncated_file.jpg"]
)
def test_broken_files_raise_permanent_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(PermanentError):
        run_stages(corpus() / "broken" / name, tmp_path)


def test_invalid_exif_does_not_fail_the_photo(tmp_path: Path) -> None:
    probed, _, _ = run_stages(corpus() / "broken" / "image01551.jpg", tmp_path)
    assert (probed["width"], probed["height"]) == (61, 58)
    assert probed["taken_source"] == "mtime"
