"""Which person a face belongs to: the nearest known person when close enough, else none (it waits as unknown);
and new groups formed from the unknown faces by DBSCAN (scikit-learn, imported only when re-clustering).
"""

from __future__ import annotations

import numpy as np


def nearest(embeddings: np.ndarray, centroids: np.ndarray, max_distance: float) -> list[int | None]:
    """For each embedding row, the index of the nearest centroid within `max_distance` (Euclidean), else None."""
    if len(embeddings) == 0:
        return []
    if len(centroids) == 0:
        return [None] * len(embeddings)
    distances = np.linalg.norm(embeddings[:, None, :] - centroids[None, :, :], axis=2)
    best = distances.argmin(axis=1)
    return [int(index) if distances[row, index] <= max_distance else None for row, index in enumerate(best)]


def clusters(embeddings: np.ndarray, max_distance: float, min_faces: int) -> list[list[int]]:
    """Groups of row indices that DBSCAN puts together (noise left out), largest first."""
    if len(embeddings) < min_faces:
        return []
    from sklearn.cluster import DBSCAN

    labels = DBSCAN(eps=max_distance, min_samples=min_faces, metric="euclidean").fit_predict(embeddings)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        if label >= 0:
            groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=len, reverse=True)


def one_per_photo(group: list[int], files: list[int], embeddings: np.ndarray, taken: set[int]) -> list[int]:
    """The group's faces with at most one per photo, the one nearest the group's centre; none from a photo in `taken`
    (it shows that person already). Two faces in one photo are two people, however alike they look: without this,
    small blurred faces in a crowd chain into one "person"."""
    centre = embeddings[group].mean(axis=0)
    kept: dict[int, tuple[float, int]] = {}
    for index in group:
        if files[index] in taken:
            continue
        distance = float(np.linalg.norm(embeddings[index] - centre))
        if files[index] not in kept or distance < kept[files[index]][0]:
            kept[files[index]] = (distance, index)
    return sorted(index for _, index in kept.values())
