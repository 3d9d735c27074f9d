"""Stage `hash`: SHA-256 of the file's bytes and 64-bit perceptual hashes (pHash, dHash) of the reduced copy.

The hashes feed duplicate detection; the SHA-256 also confirms "unchanged" when only mtime moved.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from typing import TypedDict

import numpy as np
from PIL import Image

from daemon.pipeline import lanczos
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.probe import read_bytes
from daemon.pipeline.thumbnails import Thumbnails
from daemon.store import records
from daemon.store.queue import Job

log = logging.getLogger("image_engine.hash")


class HashResult(TypedDict):
    sha256: str  # hex
    phash: str  # 64-bit, 16 hex digits
    dhash: str


class HashStage(Stage):
    name = "hash"
    pool = "cpu"

    def __init__(self, thumbs: Thumbnails | None = None):
        self.thumbs = thumbs  # the review app's thumbnails, a by-product of the reduced copy

    def record(self, conn: sqlite3.Connection, job: Job, result: HashResult) -> None:  # type: ignore[override]
        records.record_hash(conn, job, result)

    def run(self, item: WorkItem) -> HashResult:  # type: ignore[override]
        data = item.memory.pop("bytes", None)
        if data is None:
            data = read_bytes(item.path)
        small = hash_input(item.reduced())
        sha256 = hashlib.sha256(data).hexdigest()
        if self.thumbs is not None:
            try:
                self.thumbs.save(item.reduced(), sha256, "thumb")
            except OSError as exc:  # a thumbnail is a nicety: the review app makes it on first view instead
                log.warning(
                    "thumbnail not saved", extra={"event": "thumb_failed", "path": str(item.path), "error": str(exc)}
                )
        phash, dhash = perceptual_hashes(small)
        return {"sha256": sha256, "phash": phash, "dhash": dhash}


def hash_input(image: Image.Image) -> Image.Image:
    """Greyscale, box-reduced to at most 128 px: perceptual hashes look at 32x32 anyway, and
    resizing a large image with LANCZOS inside imagehash would cost more than decoding it."""
    grey = image.convert("L")
    factor = max(1, max(grey.size) // 128)
    return grey.reduce(factor) if factor > 1 else grey


def perceptual_hashes(small: Image.Image) -> tuple[str, str]:
    """imagehash's phash and dhash of a greyscale image as hex, computed the same way (same resizes, same DCT, same
    median) without its wrappers, which cost as much as the hashing itself (bit strings built one bit at a time)."""
    import scipy.fftpack

    grey = np.asarray(small)
    pixels = lanczos.resize(grey, (32, 32))  # Image.resize(LANCZOS), bit for bit, without Pillow's per-call setup
    low = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    steps = lanczos.resize(grey, (9, 8))
    return _hex(low > _median(low)), _hex(steps[:, 1:] > steps[:, :-1])


def _median(values: np.ndarray) -> float:
    """np.median of an even count, bit for bit (the mean of the two middle values), without its generic machinery."""
    ordered = np.sort(values, axis=None)
    middle = ordered.size // 2
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits.ravel()).tobytes().hex()


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
