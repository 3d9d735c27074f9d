"""`similar PATH --by face`: other photos ranked by how close their faces come to a face of this one.

Score = 1 - the smallest descriptor distance between a face here and a face there (dlib: same person above 0.4).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from daemon.store import faces as faces_store


def by_face(conn: sqlite3.Connection, file_id: int, limit: int) -> dict[str, Any]:
    files, paths, matrix = faces_store.face_vectors(conn)
    mine = matrix[[index for index, owner in enumerate(files) if owner == file_id]]
    best: dict[int, tuple[float, str]] = {}
    if len(mine):
        distances = np.linalg.norm(matrix[:, None, :] - mine[None, :, :], axis=2).min(axis=1)
        for owner, path, distance in zip(files, paths, distances, strict=True):
            if owner != file_id and (owner not in best or distance < best[owner][0]):
                best[owner] = (float(distance), path)
    ranked = sorted(best.values())[:limit]
    return {"model": "faces", "results": [{"path": path, "score": round(1 - d, 4)} for d, path in ranked]}
