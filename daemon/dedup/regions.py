"""Crops and screenshots of a known photo: candidates by stored image embedding, confirmed by `contains.find_region`.

Their pHashes are too far apart for the hash index (a crop over 10% moves most bits), so the dedup stage keeps the
embeddings of the files it judged in memory (one matrix per model) and looks at the few most similar ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from daemon.dedup.contains import find_region
from daemon.dedup.grouping import Facts, Link, capture_gap, pair

CANDIDATE_SIMILARITY = 0.75  # embedding cosine a crop or screenshot reaches (below it, no pixels are compared)
CANDIDATES = 4  # the most similar files whose pixels are compared


class EmbeddingTable:
    """Normalised embeddings of one model for the files judged so far; rows grow by doubling."""

    def __init__(self, model: str, ids: np.ndarray, matrix: np.ndarray):
        self.model = model
        self.at: dict[int, int] = {}
        self.ids = np.zeros(max(16, 2 * len(ids)), dtype=np.int64)
        self.rows = np.zeros((len(self.ids), matrix.shape[1] if matrix.size else 0), dtype=np.float32)
        self.used = 0
        for file_id, vector in zip(ids.tolist(), matrix, strict=True):
            self.add(file_id, vector)

    def add(self, file_id: int, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32).ravel()
        if self.rows.shape[1] == 0:
            self.rows = np.zeros((len(self.ids), vector.size), dtype=np.float32)
        if vector.size != self.rows.shape[1]:
            return
        norm = float(np.linalg.norm(vector))
        if not norm:
            return
        slot = self.at.get(file_id)
        if slot is None:
            if self.used == len(self.ids):
                self.ids = np.resize(self.ids, 2 * len(self.ids))
                self.rows = np.concatenate([self.rows, np.zeros_like(self.rows)])
            slot, self.used = self.used, self.used + 1
            self.at[file_id] = slot
            self.ids[slot] = file_id
        self.rows[slot] = vector / norm

    def nearest(self, vector: np.ndarray, exclude: set[int]) -> list[tuple[int, float]]:
        """(file id, cosine) of the most similar rows at or above CANDIDATE_SIMILARITY, best first."""
        if not self.used or vector.size != self.rows.shape[1]:
            return []
        query = np.asarray(vector, dtype=np.float32) / max(float(np.linalg.norm(vector)), 1e-12)
        cosines = self.rows[: self.used] @ query
        order = np.argsort(-cosines)[: CANDIDATES + len(exclude)]
        found = [(int(self.ids[i]), float(cosines[i])) for i in order if cosines[i] >= CANDIDATE_SIMILARITY]
        return [(file_id, cosine) for file_id, cosine in found if file_id not in exclude][:CANDIDATES]


def region_links(
    me: Facts,
    mine: Image.Image,
    candidates: list[tuple[Facts, float]],
    pixels_of: Callable[[Facts], Image.Image | None],
) -> list[Link]:
    """Links to the candidates that `me` is a crop of, or that a screenshot `me` shows (pixels compared)."""
    links = []
    for other, cosine in candidates:
        if capture_gap(me, other):
            continue  # two capture times: two shots, however alike
        theirs = pixels_of(other)
        if theirs is None:
            continue
        region = find_region(mine, theirs)
        if region is None:
            continue
        a, b = pair(me.id, other.id)
        phash = (me.phash ^ other.phash).bit_count() if me.phash is not None and other.phash is not None else None
        dhash = (me.dhash ^ other.dhash).bit_count() if me.dhash is not None and other.dhash is not None else None
        # Which one shows the region: the share is of the other's width, positive when `a` is the inner one.
        inner_is_a = region.inner_is_first == (me.id == a)
        links.append(
            Link(a, b, "near", phash, dhash, round(cosine, 4), contained=region.share if inner_is_a else -region.share)
        )
    return links
