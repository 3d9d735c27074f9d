"""Probe's larger copies for the faces stage ([people] detect_size): one decode gives both this and the usual copy.

Kept in memory until the faces stage has used them (spilled to JPEG past a budget, like the reduced copies).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from daemon.pipeline.reduced_cache import ReducedCache

COPIES_BYTES = 48 << 20


class FaceCopies(ReducedCache):
    """Probe's copies for face detection, kept until the faces stage has run (spilled to JPEG past a budget)."""

    def __init__(self, folder: Path, size: int, max_bytes: int = COPIES_BYTES):
        super().__init__(folder, max_bytes)
        self.size = size

    def keep(self, file_id: int, image: Image.Image, orientation: int | None, reduced_size: int) -> Image.Image:
        """Decode `image` once at the face size, keep that copy, and return the usual reduced copy shrunk from it."""
        from daemon.pipeline.imaging import reduce

        larger = reduce(image, max(self.size, reduced_size), orientation)
        self.put(file_id, larger)
        factor = max(larger.size) // reduced_size
        return larger.reduce(factor) if factor > 1 else larger
