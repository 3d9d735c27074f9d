"""The probe and hash stages on real files of every format in the corpus, and EXIF orientation."""

from __future__ import annotations

from pathlib import Path

import imagehash
import pytest
from PIL import Image

from daemon.errors import PermanentError
from daemon.pipeline import exif
from daemon.pipeline.base import WorkItem
from daemon.pipeline.hashing import HashStage
from daemon.pipeline.probe import ProbeStage
from daemon.pipeline.reduced_cache import IMAGE_OVERHEAD, ReducedCache
from daemon.store.queue import Job
from tests.support import corpus


def run_stages(path: Path, cache: Path) -> tuple[dict, dict, WorkItem]:
    job = Job(1, 1, str(path), str(path.parent), "", "probe", 0, 1, "test")
    item = WorkItem(job=job, results=lambda stage: None, reduced_loader=lambda item: None)  # type: ignore[arg-type]
    probed = ProbeStage(384, 200_000_000, ReducedCache(cache)).run(item)
    hashed = HashStage().run(item)
    return probed, hashed, item


def test_every_corpus_photo_format_probes(tmp_path: Path) -> None:
    photos = sorted((corpus() / "photos").iterdir())
    formats = set()
    for photo in photos:
        probed, hashed, item = run_stages(photo, tmp_path)
        formats.add(probed["format"])
        assert probed["width"] > 0 and probed["height"] > 0
        longest = max(item.reduced().size)
        assert item.reduced().mode == "RGB" and (
            384 <= longest < 2 * 384 or longest == max(probed["width"], probed["height"])
        )
        assert len(hashed["phash"]) == 16 and len(hashed["sha256"]) == 64
    assert {"JPEG", "PNG", "WEBP", "TIFF", "GIF", "HEIF", "AVIF"} <= formats, formats


def test_all_eight_orientations_reduce_to_the_same_upright_picture(tmp_path: Path) -> None:
    files = sorted((corpus() / "orientation").glob("*.jpg"))
    assert len(files) == 9
    hashes, sizes = {}, set()
    for path in files:
        probed, hashed, item = run_stages(path, tmp_path)
        width, height = item.reduced().size
        assert width > height, path.name  # landscape once oriented
        sizes.add((width, height))
        hashes[path.name] = imagehash.hex_to_hash(hashed["phash"])
    reference = hashes["Landscape_0.jpg"]
    assert max(reference - value for value in hashes.values()) <= 6, {k: reference - v for k, v in hashes.items()}
    assert len(sizes) == 1, sizes


def test_reduced_copies_stay_in_memory_and_spill_to_disk_past_the_budget(tmp_path: Path) -> None:
    _, _, item = run_stages(corpus() / "labelled" / "Nikon_D70.jpg", tmp_path)
    picture = item.reduced()
    one = picture.width * picture.height * 4 + IMAGE_OVERHEAD  # what Pillow holds for an RGB image
    cache = ReducedCache(tmp_path, max_bytes=2 * one)
    for file_id in (1, 2, 3):
        cache.put(file_id, picture)
    assert cache.path(1).exists() and not cache.path(2).exists() and not cache.path(3).exists()
    spilled = cache.get(1)
    assert spilled is not None and spilled.size == picture.size and spilled.mode == "RGB"
    assert cache.get(3) is picture
    cache.drop(1)
    assert cache.get(1) is None and not cache.path(1).exists()


@pytest.mark.parametrize(
    "name", ["beach.jpg", "corrupt_boxes.heif", "fuzzed_crash-2b10c204.tif", "african_elephants_truncated_file.jpg"]
)
def test_broken_files_raise_permanent_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(PermanentError):
        run_stages(corpus() / "broken" / name, tmp_path)


def test_invalid_exif_does_not_fail_the_photo(tmp_path: Path) -> None:
    probed, _, _ = run_stages(corpus() / "broken" / "image01551.jpg", tmp_path)
    assert (probed["width"], probed["height"]) == (61, 58)
    # Its EXIF block is broken; the XMP packet beside it still dates it (issue 13: the taken-time chain).
    assert (probed["taken"], probed["taken_source"]) == ("2011-09-23T12:43:03", "XMP xmp:CreateDate")


def test_the_lens_is_read_for_the_photo_page() -> None:
    with Image.open(corpus() / "faces" / "obama.jpg") as image:
        assert exif.read_facts(image, 0.0)["lens"] == "EF85mm f/1.2L USM"
    with Image.open(corpus() / "photos" / "Apple iPhone 4.jpg") as image:  # no lens recorded
        assert exif.read_facts(image, 0.0)["lens"] is None
