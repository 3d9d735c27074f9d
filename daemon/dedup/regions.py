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

CANDIDATE_SIMILARITY = 0.65  # embedding cosine crops (15-35%) and 60% screenshots reached (bench.dedup_regions)
CANDIDATES = 4  # the most similar files whose pixels are compared
# Rows are kept projected to PROJECTED dimensions (a fixed random projection keeps cosines within about 0.1): 512
# bytes a photo instead of 5 kB for EfficientNet's 1280. The projected cosine only shortlists; the stored
# embeddings give the exact one.
PROJECTED, SHORTLIST, PROJECTED_FLOOR = 128, 12, CANDIDATE_SIMILARITY - 0.12


class EmbeddingTable:
    """Embeddings of one model for the files judged so far, projected and normalised; rows grow by doubling."""

    def __init__(self, model: str, ids: np.ndarray, matrix: np.ndarray):
        self.model = model
        self.at: dict[int, int] = {}
        self.ids = np.zeros(max(16, 2 * len(ids)), dtype=np.int64)
        self.rows = np.zeros((len(self.ids), PROJECTED), dtype=np.float32)
        self.dim: int | None = matrix.shape[1] if matrix.size else None
        self.projection: np.ndarray | None = None
        self.used = 0
        for file_id, vector in zip(ids.tolist(), matrix, strict=True):
            self.add(file_id, vector)

    def project(self, vector: np.ndarray) -> np.ndarray | None:
        vector = np.asarray(vector, dtype=np.float32).ravel()
        if self.dim is None:
            self.dim = vector.size
        if vector.size != self.dim:
            return None
        if self.projection is None:
            if self.dim <= PROJECTED:
                self.projection = np.eye(self.dim, PROJECTED, dtype=np.float32)
            else:
                self.projection = np.random.default_rng(self.dim).standard_normal((self.dim, PROJECTED))
                self.projection = self.projection.astype(np.float32)
        projected = vector @ self.projection
        norm = float(np.linalg.norm(projected))
        return projected / norm if norm else None

    def add(self, file_id: int, vector: np.ndarray) -> None:
        row = self.project(vector)
        if row is None:
            return
        slot = self.at.get(file_id)
        if slot is None:
            if self.used == len(self.ids):
                self.ids = np.resize(self.ids, 2 * len(self.ids))
                self.rows = np.concatenate([self.rows, np.zeros_like(self.rows)])
            slot, self.used = self.used, self.used + 1
            self.at[file_id] = slot
            self.ids[slot] = file_id
        self.rows[slot] = row

    def shortlist(self, vector: np.ndarray, exclude: set[int]) -> list[int]:
        """File ids whose projected cosine to `vector` reaches PROJECTED_FLOOR, most similar first."""
        query = self.project(vector)
        if query is None or not self.used:
            return []
        cosines = self.rows[: self.used] @ query
        order = np.argsort(-cosines)[: SHORTLIST + len(exclude)]
        found = [int(self.ids[i]) for i in order if cosines[i] >= PROJECTED_FLOOR]
        return [file_id for file_id in found if file_id not in exclude][:SHORTLIST]


def best_candidates(mine: np.ndarray, theirs: dict[int, np.ndarray]) -> list[tuple[int, float]]:
    """(file id, exact cosine) of the shortlisted files at or above CANDIDATE_SIMILARITY, the CANDIDATES best."""
    unit = mine / max(float(np.linalg.norm(mine)), 1e-12)
    scored = []
    for file_id, vector in theirs.items():
        if vector.shape == mine.shape:
            cosine = float(unit @ vector) / max(float(np.linalg.norm(vector)), 1e-12)
            if cosine >= CANDIDATE_SIMILARITY:
                scored.append((file_id, cosine))
    return sorted(scored, key=lambda item: -item[1])[:CANDIDATES]


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
