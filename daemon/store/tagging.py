"""The tag stage's tables: keywords per file, category/caption/facts per file, and the image embedding.

The recorder runs inside the completion transaction; the queries serve `image-engine tags / similar / search`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.store import corrections, embeddings, keyword_rules
from daemon.store.connection import connect

if TYPE_CHECKING:
    from daemon.store.queue import Job

EMBEDDING_KEY = "_embedding"  # in-memory only: the worker never writes "_" keys into the results JSON


def record_tag(conn: sqlite3.Connection, job: Job, data: dict[str, Any]) -> None:
    conn.execute("DELETE FROM keywords WHERE file_id = ? AND source IN ('auto', 'learned')", (job.file_id,))
    keyword_rules.apply_to_tagging(conn, job.file_id, [k["keyword"] for k in data["keywords"]])
    refused = corrections.rejected(conn, job.file_id)  # the user's word: a rejected keyword never comes back
    conn.executemany(
        "INSERT OR REPLACE INTO keywords (file_id, keyword, score, source, model, hierarchy) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                job.file_id,
                k["keyword"],
                k.get("score"),
                k.get("source", "auto"),
                k.get("model") or data["model"],
                k.get("hierarchy"),
            )
            for k in data["keywords"]
            if k["keyword"].casefold() not in refused
        ],
    )
    facts = data.get("facts") or {}
    conn.execute(
        "INSERT INTO tagging (file_id, backend, model, category, category_score, caption, sharpness, blurry, exposure,"
        " colours, orientation, tagged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (file_id) DO UPDATE SET backend = excluded.backend, model = excluded.model,"
        " category = excluded.category, category_score = excluded.category_score, caption = excluded.caption,"
        " sharpness = excluded.sharpness, blurry = excluded.blurry, exposure = excluded.exposure,"
        " colours = excluded.colours, orientation = excluded.orientation, tagged_at = excluded.tagged_at",
        (
            job.file_id,
            data["backend"],
            data["model"],
            data.get("category"),
            data.get("category_score"),
            data.get("caption"),
            facts.get("sharpness"),
            None if facts.get("blurry") is None else int(facts["blurry"]),
            facts.get("exposure"),
            json.dumps(facts.get("colours", [])),
            facts.get("orientation"),
            time.time(),
        ),
    )
    vector = data.get(EMBEDDING_KEY)
    if vector is not None:
        embeddings.put(conn, job.file_id, data["model"], vector)
    else:
        conn.execute("DELETE FROM embeddings WHERE file_id = ?", (job.file_id,))


def file_id_of(conn: sqlite3.Connection, path: str) -> int | None:
    row = conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
    return None if row is None else int(row[0])


def tags_of(conn: sqlite3.Connection, file_id: int) -> dict[str, Any]:
    """What was stored for one file: keywords (best first), category, caption, facts, embedding model."""
    keywords = [
        dict(row)
        for row in conn.execute(
            "SELECT keyword, score, source, model, hierarchy FROM keywords WHERE file_id = ?"
            " ORDER BY score DESC, keyword",
            (file_id,),
        )
    ]
    row = conn.execute("SELECT * FROM tagging WHERE file_id = ?", (file_id,)).fetchone()
    info = dict(row) if row else {}
    if info.get("colours"):
        info["colours"] = json.loads(info["colours"])
    embedded = conn.execute("SELECT model, dim FROM embeddings WHERE file_id = ?", (file_id,)).fetchone()
    info.pop("file_id", None)
    return {
        "keywords": keywords,
        **info,
        "embedding": None if embedded is None else {"model": embedded[0], "dim": embedded[1]},
        "corrections": corrections.of_file(conn, file_id),
    }


def nearest(
    conn: sqlite3.Connection, model: str, query: np.ndarray, limit: int, exclude_file: int | None = None
) -> list[dict[str, Any]]:
    """Present files embedded with `model`, by cosine similarity to `query` (L2-normalised), best first."""
    ids, matrix = embeddings.all_for_model(conn, model)
    if not len(ids):
        return []
    query = np.asarray(query, dtype=np.float32).ravel()
    scores = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
    order = np.argsort(-scores, kind="stable")
    found = []
    for index in order:
        file_id = int(ids[index])
        if file_id == exclude_file:
            continue
        path = conn.execute("SELECT path FROM files WHERE id = ?", (file_id,)).fetchone()[0]
        found.append({"path": path, "score": round(float(scores[index]), 4)})
        if len(found) >= limit:
            break
    return found


def text_cache_connector(db_path: Path) -> Callable[[], sqlite3.Connection]:
    """Per-thread connections for daemon.store.embeddings.TextEmbeddingCache, opened on first use."""
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = connect(db_path)
            local.conn = conn
        return conn

    return connection
