"""Image embeddings per file (float16, L2-normalised) and the key -> bytes cache of text embeddings.

The tag recorder writes them; dedup, `similar` and `search` read them back as numpy arrays.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import numpy as np

from daemon.store.connection import transaction


def put(conn: sqlite3.Connection, file_id: int, model: str, vector: np.ndarray) -> None:
    """Store one file's embedding; call inside the completion transaction."""
    half = np.asarray(vector, dtype="<f2").ravel()
    conn.execute(
        "INSERT INTO embeddings (file_id, model, dim, vector) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (file_id) DO UPDATE SET model = excluded.model, dim = excluded.dim, vector = excluded.vector",
        (file_id, model, int(half.size), half.tobytes()),
    )


def get(conn: sqlite3.Connection, file_id: int) -> tuple[str, np.ndarray] | None:
    row = conn.execute("SELECT model, vector FROM embeddings WHERE file_id = ?", (file_id,)).fetchone()
    if row is None:
        return None
    return row[0], np.frombuffer(row[1], dtype="<f2").astype(np.float32)


def all_for_model(conn: sqlite3.Connection, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(file ids, matrix of float32 rows) of every present file embedded with `model`."""
    rows = conn.execute(
        "SELECT embeddings.file_id, embeddings.vector FROM embeddings JOIN files ON files.id = embeddings.file_id"
        " WHERE embeddings.model = ? AND files.present = 1 ORDER BY embeddings.file_id",
        (model,),
    ).fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.stack([np.frombuffer(row[1], dtype="<f2") for row in rows]).astype(np.float32)
    return ids, matrix


class TextEmbeddingCache:
    """The EmbeddingCache a backend is given (daemon.ml.base): text embeddings survive restarts."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self._connect = connect

    def get(self, key: str) -> bytes | None:
        row = self._connect().execute("SELECT value FROM text_embeddings WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, key: str, value: bytes) -> None:
        conn = self._connect()
        with transaction(conn):
            conn.execute(
                "INSERT INTO text_embeddings (key, value, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at",
                (key, value, time.time()),
            )
