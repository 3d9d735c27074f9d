"""The reduced copies of jobs in flight, shared by the stage workers of one engine process.

Kept in memory up to a byte budget; the least recently used spill to JPEG files, so later stages never decode twice.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

IMAGE_OVERHEAD = 1024


class ReducedCache:
    def __init__(self, folder: Path, max_bytes: int = 64 << 20):
        self.folder = folder
        self.max_bytes = max_bytes
        self._images: OrderedDict[int, Image.Image] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, file_id: int, image: Image.Image) -> None:
        spill: list[tuple[int, Image.Image]] = []
        with self._lock:
            self._forget(file_id)
            self._images[file_id] = image
            self._bytes += _size(image)
            while self._bytes > self.max_bytes and len(self._images) > 1:
                old_id, old = self._images.popitem(last=False)
                self._bytes -= _size(old)
                spill.append((old_id, old))
        for old_id, old in spill:
            _save(old, self.path(old_id))

    def get(self, file_id: int) -> Image.Image | None:
        with self._lock:
            image = self._images.get(file_id)
            if image is not None:
                self._images.move_to_end(file_id)
                return image
        try:
            with Image.open(self.path(file_id)) as spilled:
                return spilled.convert("RGB")
        except OSError:
            return None

    def drop(self, file_id: int) -> None:
        with self._lock:
            self._forget(file_id)
        with contextlib.suppress(FileNotFoundError):  # a string path: three Path joins were a third of this call
            os.unlink(self._spill_name(file_id))

    def path(self, file_id: int) -> Path:
        return Path(self._spill_name(file_id))

    def _spill_name(self, file_id: int) -> str:
        return os.path.join(self.folder, "reduced", f"{file_id % 256:02x}", f"{file_id}.jpg")

    def _forget(self, file_id: int) -> None:
        image = self._images.pop(file_id, None)
        if image is not None:
            self._bytes -= _size(image)


def _size(image: Image.Image) -> int:
    """What the image really holds: Pillow keeps 3-band pixels in 4 bytes, and each image costs ~1 KB besides."""
    pixel_bytes = 1 if len(image.getbands()) == 1 else 4
    return image.width * image.height * pixel_bytes + IMAGE_OVERHEAD


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    image.save(temporary, "JPEG", quality=92)
    temporary.replace(path)
