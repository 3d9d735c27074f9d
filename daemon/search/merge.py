"""Merge full-text matches with CLIP text-to-image similarity by reciprocal rank fusion.

Each list ranks on its own scale (BM25 vs cosine), so only ranks are combined; each result keeps why it matched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RRF_K = 60  # the usual constant: a first place is worth about twice a twentieth


def nearest_ids(ids: np.ndarray, matrix: np.ndarray, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
    """The `count` stored embeddings closest to `vector` (cosine; rows are L2-normalised): (file_id, similarity)."""
    if not len(ids):
        return []
    query = np.asarray(vector, dtype=np.float32).ravel()
    scores = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
    order = np.argsort(-scores, kind="stable")[:count]
    return [(int(ids[index]), float(scores[index])) for index in order]


def fuse(
    text_hits: list[dict[str, Any]], image_hits: list[tuple[int, float]], known: dict[int, dict[str, Any]], limit: int
) -> list[dict[str, Any]]:
    """One ranked list: text hits as they are, image hits (already filtered to `known`) added with their similarity."""
    merged: dict[int, dict[str, Any]] = {}
    for rank, hit in enumerate(text_hits):
        merged[hit["file_id"]] = {**hit, "why": list(hit["why"]), "rrf": 1.0 / (RRF_K + rank + 1)}
    image_rank = 0
    for file_id, similarity in image_hits:
        if file_id not in known:
            continue
        image_rank += 1
        reason = {"field": "image", "similarity": round(similarity, 4)}
        entry = merged.get(file_id)
        if entry is None:
            entry = merged[file_id] = {"file_id": file_id, **known[file_id], "score": 0.0, "why": [], "rrf": 0.0}
        entry["why"].append(reason)
        entry["rrf"] += 1.0 / (RRF_K + image_rank)
    ranked = sorted(merged.values(), key=lambda entry: -entry["rrf"])[:limit]
    for entry in ranked:
        entry["score"] = round(entry.pop("rrf"), 6)
    return ranked
