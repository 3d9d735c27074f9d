"""Shared bench helpers: the corpus location, synthetic photo sets made from real photos, JSON output.

Benchmarks print one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("IMAGE_ENGINE_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_photos() -> list[Path]:
    photos = sorted(p for p in (CORPUS / "photos").glob("*.jpg") if p.stat().st_size > 150_000)
    if not photos:
        sys.exit(f"bench needs the shared corpus at {CORPUS} (set IMAGE_ENGINE_CORPUS)")
    return photos


def make_jpegs(folder: Path, count: int, size: tuple[int, int], quality: int = 90) -> list[Path]:
    """`count` JPEGs of `size` pixels, each resized from a different real corpus photo, with its EXIF."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sources = corpus_photos()
    made = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"{index:03d}_{size[0]}x{size[1]}.jpg"
        if not target.exists():
            with Image.open(source) as image:
                exif = image.info.get("exif", b"")
                image.convert("RGB").resize(size, Image.Resampling.BILINEAR).save(target, quality=quality, exif=exif)
        made.append(target)
    return made


def emit(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, indent=2))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
