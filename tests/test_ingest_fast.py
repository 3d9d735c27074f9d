"""The ingest fast paths give exactly what the slower general code gives, on every corpus image.

exif_fast reads a JPEG's wanted EXIF tags without Pillow's full unpacking; the perceptual hashes skip imagehash's
wrappers. Stored hashes and facts must not change with them (dedup compares new hashes with old ones).
"""

from __future__ import annotations

import math
from pathlib import Path

import imagehash
import pytest
from PIL import Image

from daemon.pipeline import exif, exif_fast
from daemon.pipeline.hashing import hash_input, perceptual_hashes
from daemon.pipeline.imaging import reduce
from tests.support import corpus

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic", ".avif"}


def corpus_images() -> list[Path]:
    return sorted(p for p in corpus().rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and "broken" not in p.parts)


def same(fast: object, pillow: object) -> bool:
    if isinstance(pillow, tuple):
        return isinstance(fast, tuple) and len(fast) == len(pillow) and all(map(same, fast, pillow))
    if isinstance(fast, float):
        return (math.isnan(fast) and math.isnan(float(pillow))) or fast == float(pillow)  # type: ignore[arg-type]
    return fast == pillow


def test_fast_exif_tags_equal_pillows_on_every_corpus_jpeg() -> None:
    read_fast = 0
    for path in corpus_images():
        with Image.open(path) as image:
            fast = exif_fast.read(image)
            if fast is None:
                continue
            read_fast += 1
            pillow = image.getexif()
            for tag in exif_fast.IFD0_TEXT | {exif_fast.ORIENTATION}:
                assert same(fast.get(tag), pillow.get(tag)), (path.name, hex(tag), fast.get(tag), pillow.get(tag))
            for pointer, wanted in (
                (exif_fast.EXIF_POINTER, exif_fast.EXIF_TEXT),
                (exif_fast.GPS_POINTER, exif_fast.GPS_TEXT | exif_fast.GPS_TRIPLES),
            ):
                ours, theirs = fast.get_ifd(pointer), pillow.get_ifd(pointer)
                for tag in wanted:
                    assert same(ours.get(tag), theirs.get(tag)), (path.name, hex(tag), ours.get(tag), theirs.get(tag))
    assert read_fast >= 95, read_fast  # every corpus JPEG with a plain Exif block (XMP orientation included)


def test_every_fact_read_the_fast_way_equals_the_pillow_way_on_every_corpus_jpeg() -> None:
    with_gps = with_lens = 0
    for path in corpus_images():
        with Image.open(path) as image:
            if exif_fast.read(image) is None:
                continue
            facts = exif.read_facts(image, 0.0, path.name)
        with Image.open(path) as image:
            assert facts == exif.read_facts(image, 0.0, path.name, fast=False), path.name
        with_gps += facts["gps_lat"] is not None
        with_lens += facts["lens"] is not None
    assert with_gps >= 3 and with_lens >= 3, (with_gps, with_lens)


def test_a_tag_the_fast_reader_does_not_read_is_a_loud_error() -> None:
    path = next(p for p in corpus_images() if p.suffix == ".jpg" and "photos" in p.parts)
    with Image.open(path) as image:
        tags = exif_fast.read(image)
    assert tags is not None
    with pytest.raises(LookupError, match="0x9291"):
        tags.get_ifd(exif_fast.EXIF_POINTER).get(0x9291)  # SubSecTimeOriginal: not one read_facts uses


def test_perceptual_hashes_equal_imagehash_on_every_corpus_jpeg_and_png() -> None:
    for path in (p for p in corpus_images() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        with Image.open(path) as image:
            small = hash_input(reduce(image, 384, None))
        assert perceptual_hashes(small) == (str(imagehash.phash(small)), str(imagehash.dhash(small))), path.name


def test_exif_dates_read_the_fast_way_equal_strptimes() -> None:
    """taken.parse_datetime reads "YYYY:MM:DD HH:MM:SS" without strptime; valid or not, the answer must not move."""
    import datetime as dt
    import random

    from daemon.pipeline import taken

    chooser = random.Random(5)
    for _ in range(4_000):
        year = chooser.choice([chooser.randint(0, 9999), chooser.randint(1990, 2030)])
        month, day, hour, minute, second = (chooser.randint(0, 99) for _ in range(5))
        if chooser.random() < 0.7:
            month, day, hour = chooser.randint(1, 12), chooser.randint(1, 31), chooser.randint(0, 24)
            minute, second = chooser.randint(0, 60), chooser.randint(0, 61)
        text = f"{year:04d}:{month:02d}:{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
        try:
            expected: dt.datetime | None = dt.datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
        except ValueError:
            try:  # the chain's last resort for a broken time: the date alone
                expected = dt.datetime.strptime(text[:10], "%Y:%m:%d")
            except ValueError:
                expected = None
        assert taken.parse_datetime(text) == expected, text
