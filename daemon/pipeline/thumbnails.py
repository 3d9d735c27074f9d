"""Thumbnails (~320 px) and previews (~1440 px) as WebP, cached in the data folder by the photo's content hash.

The hash stage makes the thumbnail from the reduced copy probe decoded (no second decode); photos done before
that, and previews, are decoded once from the file on first view.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

from PIL import Image

from daemon.pipeline import imaging

SIZES = {"thumb": 320, "preview": 1440}
QUALITY = {"thumb": 75, "preview": 82}


class Thumbnails:
    def __init__(self, folder: Path, max_pixels: int):
        self.folder = folder
        self.max_pixels = max_pixels

    def path(self, sha256: str, kind: str) -> Path:
        return self.folder / sha256[:2] / f"{sha256}-{SIZES[kind]}.webp"

    def get(self, source: Path, sha256: str, orientation: int | None, kind: str) -> Path:
        """The cached file for `kind`, made now when missing (PermanentError when the photo cannot be decoded)."""
        target = self.path(sha256, kind)
        if not target.exists():
            data = source.read_bytes()
            image = imaging.reduce(imaging.open_image(data, source, self.max_pixels), SIZES[kind], orientation)
            self.save(image, sha256, kind)
        return target

    def save(self, image: Image.Image, sha256: str, kind: str) -> Path:
        """Store a reduced (already oriented) copy as this hash's `kind`; written whole or not at all."""
        target = self.path(sha256, kind)
        copy = image.copy()
        copy.thumbnail((SIZES[kind], SIZES[kind]))
        buffer = io.BytesIO()
        copy.save(buffer, "WEBP", quality=QUALITY[kind], method=2)  # 2: a third of the default's time here
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}.{secrets.token_hex(6)}.tmp")
        temporary.write_bytes(buffer.getvalue())
        os.replace(temporary, target)
        return target
