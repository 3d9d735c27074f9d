"""Stage `hash`: SHA-256 of the file's bytes and 64-bit perceptual hashes (pHash, dHash) of the reduced copy.

The hashes feed duplicate detection; the SHA-256 also confirms "unchanged" when only mtime moved.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import TypedDict

import imagehash
from PIL import Image

from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.probe import read_bytes
from daemon.store import records
from daemon.store.queue import Job


class HashResult(TypedDict):
    sha256: str  # hex
    phash: str  # 64-bit, 16 hex digits
    dhash: str


class HashStage(Stage):
    name = "hash"
    pool = "cpu"

    def record(self, conn: sqlite3.Connection, job: Job, result: HashResult) -> None:  # type: ignore[override]
        records.record_hash(conn, job, result)

    def run(self, item: WorkItem) -> HashResult:  # type: ignore[override]
        data = item.memory.pop("bytes", None)
        if data is None:
            data = read_bytes(item.path)
        small = hash_input(item.reduced())
        return {
            "sha256": hashlib.sha256(data).hexdigest(),
            "phash": str(imagehash.phash(small)),
            "dhash": str(imagehash.dhash(small)),
        }


def hash_input(image: Image.Image) -> Image.Image:
    """Greyscale, box-reduced to at most 128 px: perceptual hashes look at 32x32 anyway, and
    resizing a large image with LANCZOS inside imagehash would cost more than decoding it."""
    grey = image.convert("L")
    factor = max(1, max(grey.size) // 128)
    return grey.reduce(factor) if factor > 1 else grey


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
