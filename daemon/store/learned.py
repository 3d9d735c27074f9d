"""Taught keywords in the store: the user's examples, one classifier per keyword, and the learned copies.

A learned copy is a `keywords` row with source 'learned' plus an entry in the file's tag result (what the metadata
stage writes into the file); taking one back lists the keyword under the result's "withdrawn".
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from daemon.store import settings
from daemon.store.connection import transaction

LEARNED = "learned"
GENERATION_KEY = "learn.generation"
CORRECTIONS_SEEN_KEY = "learn.corrections_seen"
CLASSIFIER_FIELDS = (
    "model",
    "state",
    "message",
    "weights",
    "intercept",
    "threshold",
    "precision",
    "recall",
    "positives",
    "negatives",
    "would_tag",
)


# --- examples ---


def add_examples(conn: sqlite3.Connection, keyword: str, file_ids: Iterable[int], label: int) -> int:
    """Record the user's word: these photos are (1) or are not (0) `keyword`; a later word replaces an earlier one."""
    now = time.time()
    rows = [(keyword, file_id, label, now) for file_id in file_ids]
    with transaction(conn):
        conn.executemany(
            "INSERT INTO taught_examples (keyword, file_id, label, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (keyword, file_id) DO UPDATE SET label = excluded.label, added_at = excluded.added_at",
            rows,
        )
        if not conn.execute("SELECT 1 FROM taught_keywords WHERE keyword = ?", (keyword,)).fetchone():
            conn.execute(
                "INSERT INTO taught_keywords (keyword, state, created_at) VALUES (?, 'training', ?)", (keyword, now)
            )
    return len(rows)


def examples(conn: sqlite3.Connection, keyword: str) -> dict[int, int]:
    """file id -> label (1 positive, 0 negative) of every example of `keyword`.

    Corrections made in the review app (the `corrections` table, where that feature is installed) count too:
    a rejected keyword is a counter-example, an added one an example; the user's latest word wins.
    """
    said: dict[int, tuple[float, int]] = {}  # file id -> (when, label)
    rows = conn.execute("SELECT file_id, label, added_at FROM taught_examples WHERE keyword = ?", (keyword,))
    for row in rows:
        said[int(row[0])] = (float(row[2]), int(row[1]))
    if _has_corrections(conn):
        for row in conn.execute(
            "SELECT file_id, kind, at FROM corrections WHERE value = ? COLLATE NOCASE"
            " AND kind IN ('reject_keyword', 'add_keyword')",
            (keyword,),
        ):
            file_id, when = int(row[0]), float(row[2])
            if file_id not in said or when >= said[file_id][0]:
                said[file_id] = (when, 0 if row[1] == "reject_keyword" else 1)
    return {file_id: label for file_id, (_, label) in said.items()}


def example_files(conn: sqlite3.Connection, keyword: str) -> list[dict[str, Any]]:
    """Examples with what identifies them on another machine (content hash) or here (path)."""
    rows = conn.execute(
        "SELECT files.path, files.sha256, taught_examples.label FROM taught_examples"
        " JOIN files ON files.id = taught_examples.file_id WHERE taught_examples.keyword = ? ORDER BY files.path",
        (keyword,),
    )
    return [{"path": row[0], "sha256": row[1], "label": int(row[2])} for row in rows]


def corrections_since(conn: sqlite3.Connection) -> set[str]:
    """Taught keywords the user added or rejected in the review app since the last call (they need retraining).

    Reads the review app's `corrections` table where that feature is installed; remembers how far it read.
    """
    if not _has_corrections(conn):
        return set()
    seen = int(settings.get(conn, CORRECTIONS_SEEN_KEY) or 0)
    rows = conn.execute(
        "SELECT corrections.id, taught_keywords.keyword FROM corrections"
        " LEFT JOIN taught_keywords ON taught_keywords.keyword = corrections.value COLLATE NOCASE"
        " WHERE corrections.id > ? AND corrections.kind IN ('reject_keyword', 'add_keyword') ORDER BY corrections.id",
        (seen,),
    ).fetchall()
    if not rows:
        return set()
    settings.put(conn, CORRECTIONS_SEEN_KEY, str(rows[-1][0]))
    return {str(row[1]) for row in rows if row[1] is not None}


def examples_newly_embedded(conn: sqlite3.Connection) -> list[str]:
    """Keywords that could not be trained for want of tagged examples, and now have more of them tagged."""
    rows = conn.execute(
        "SELECT keyword FROM taught_keywords WHERE state IN ('no_embeddings', 'too_few') AND positives < ("
        " SELECT COUNT(*) FROM taught_examples JOIN embeddings ON embeddings.file_id = taught_examples.file_id"
        " WHERE taught_examples.keyword = taught_keywords.keyword AND taught_examples.label = 1)"
    )
    return [str(row[0]) for row in rows]


def _has_corrections(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'corrections'").fetchone() is not None
    )


def file_ids_by_hash_or_path(conn: sqlite3.Connection, sha256: str | None, path: str | None) -> list[int]:
    if sha256:
        found = [int(r[0]) for r in conn.execute("SELECT id FROM files WHERE sha256 = ? AND present = 1", (sha256,))]
        if found:
            return found
    if path:
        row = conn.execute("SELECT id FROM files WHERE path = ? AND present = 1", (path,)).fetchone()
        if row:
            return [int(row[0])]
    return []


# --- embeddings for training and applying ---


def embeddings_of(conn: sqlite3.Connection, file_ids: Iterable[int], model: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 matrix) of those of `file_ids` that are present and embedded with `model`."""
    wanted = list(file_ids)
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for row in conn.execute(
            f"SELECT embeddings.file_id, embeddings.vector FROM embeddings JOIN files ON files.id = embeddings.file_id"
            f" WHERE embeddings.model = ? AND files.present = 1 AND embeddings.file_id IN ({marks})",
            (model, *chunk),
        ):
            ids.append(int(row[0]))
            vectors.append(np.frombuffer(row[1], dtype="<f2"))
    return _stack(ids, vectors)


def sample_others(
    conn: sqlite3.Connection, model: str, exclude: set[int], limit: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """A random sample of up to `limit` present photos embedded with `model` outside `exclude`, and how many exist."""
    total = conn.execute(
        "SELECT COUNT(*) FROM embeddings JOIN files ON files.id = embeddings.file_id"
        " WHERE embeddings.model = ? AND files.present = 1",
        (model,),
    ).fetchone()[0]
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    rows = conn.execute(
        "SELECT embeddings.file_id, embeddings.vector FROM embeddings JOIN files ON files.id = embeddings.file_id"
        " WHERE embeddings.model = ? AND files.present = 1 ORDER BY random() LIMIT ?",
        (model, limit + len(exclude)),
    )
    for row in rows:
        if int(row[0]) in exclude or len(ids) >= limit:
            continue
        ids.append(int(row[0]))
        vectors.append(np.frombuffer(row[1], dtype="<f2"))
    others = max(0, int(total) - len(exclude))
    found_ids, matrix = _stack(ids, vectors)
    return found_ids, matrix, others


def model_of_examples(conn: sqlite3.Connection, keyword: str) -> str | None:
    """The embedding model most of the positive examples were embedded with (the current tagger's, as a rule)."""
    row = conn.execute(
        "SELECT embeddings.model, COUNT(*) AS n FROM taught_examples"
        " JOIN embeddings ON embeddings.file_id = taught_examples.file_id"
        " WHERE taught_examples.keyword = ? AND taught_examples.label = 1 GROUP BY embeddings.model"
        " ORDER BY n DESC LIMIT 1",
        (keyword,),
    ).fetchone()
    return None if row is None else str(row[0])


def embedding_pages(conn: sqlite3.Connection, model: str, page: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every present photo embedded with `model`, `page` at a time (100,000 at float32 would be 500 MB at once)."""
    after = -1
    while True:
        rows = conn.execute(
            "SELECT embeddings.file_id, embeddings.vector FROM embeddings JOIN files ON files.id = embeddings.file_id"
            " WHERE embeddings.model = ? AND files.present = 1 AND embeddings.file_id > ?"
            " ORDER BY embeddings.file_id LIMIT ?",
            (model, after, page),
        ).fetchall()
        if not rows:
            return
        after = int(rows[-1][0])
        yield _stack([int(r[0]) for r in rows], [np.frombuffer(r[1], dtype="<f2") for r in rows])


def _stack(ids: list[int], vectors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), np.stack(vectors).astype(np.float32)


# --- classifiers ---


def save_classifier(conn: sqlite3.Connection, keyword: str, **fields: Any) -> int:
    """Store a (re)trained classifier under a new version number; returns it."""
    unknown = set(fields) - set(CLASSIFIER_FIELDS)
    if unknown:
        raise ValueError(f"unknown classifier fields: {sorted(unknown)}")
    weights = fields.get("weights")
    if isinstance(weights, np.ndarray):
        fields["weights"] = np.asarray(weights, dtype="<f4").tobytes()
    now = time.time()
    with transaction(conn):
        row = conn.execute("SELECT version FROM taught_keywords WHERE keyword = ?", (keyword,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO taught_keywords (keyword, state, created_at) VALUES (?, 'training', ?)", (keyword, now)
            )
        version = (int(row[0]) if row else 0) + 1
        values = {name: fields.get(name) for name in CLASSIFIER_FIELDS}
        values["positives"] = values["positives"] or 0
        values["negatives"] = values["negatives"] or 0
        values["would_tag"] = values["would_tag"] or 0
        values["message"] = values["message"] or ""
        assignments = ", ".join(f"{name} = :{name}" for name in CLASSIFIER_FIELDS)
        conn.execute(
            f"UPDATE taught_keywords SET {assignments}, version = :version, trained_at = :now WHERE keyword = :keyword",
            {**values, "version": version, "now": now, "keyword": keyword},
        )
        _bump(conn)
    return version


def classifier(conn: sqlite3.Connection, keyword: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM taught_keywords WHERE keyword = ?", (keyword,)).fetchone()
    return None if row is None else _classifier_row(row)


def classifiers(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every taught keyword with its classifier (weights as float32 arrays), examples and learned counts."""
    rows = conn.execute("SELECT * FROM taught_keywords ORDER BY keyword COLLATE NOCASE").fetchall()
    return [_classifier_row(row) for row in rows]


def _classifier_row(row: sqlite3.Row) -> dict[str, Any]:
    info = dict(row)
    info["weights"] = None if info["weights"] is None else np.frombuffer(info["weights"], dtype="<f4").copy()
    return info


def counts(conn: sqlite3.Connection, keyword: str) -> dict[str, int]:
    """Examples (positive/negative) and photos that carry the keyword by learning."""
    labels = dict(
        conn.execute("SELECT label, COUNT(*) FROM taught_examples WHERE keyword = ? GROUP BY label", (keyword,))
    )
    learned = conn.execute(
        "SELECT COUNT(*) FROM keywords WHERE source = ? AND keyword = ? COLLATE NOCASE", (LEARNED, keyword)
    ).fetchone()[0]
    return {"examples": labels.get(1, 0), "counter_examples": labels.get(0, 0), "learned": int(learned)}


def forget(conn: sqlite3.Connection, keyword: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM taught_examples WHERE keyword = ?", (keyword,))
        conn.execute("DELETE FROM taught_keywords WHERE keyword = ?", (keyword,))
        _bump(conn)


def generation(conn: sqlite3.Connection) -> str:
    """Changes whenever a classifier is saved or removed (the tag stage reloads its copy then)."""
    return settings.get(conn, GENERATION_KEY) or "0"


def _bump(conn: sqlite3.Connection) -> None:
    current = conn.execute("SELECT value FROM settings WHERE key = ?", (GENERATION_KEY,)).fetchone()
    value = str(int(current[0]) + 1 if current else 1)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (GENERATION_KEY, value),
    )


# --- learned copies ---


def learned_files(conn: sqlite3.Connection, keyword: str) -> dict[int, float]:
    rows = conn.execute(
        "SELECT file_id, score FROM keywords WHERE source = ? AND keyword = ? COLLATE NOCASE", (LEARNED, keyword)
    )
    return {int(row[0]): float(row[1] or 0.0) for row in rows}


def set_learned(
    conn: sqlite3.Connection, keyword: str, add: dict[int, float], remove: Iterable[int], label: str
) -> list[int]:
    """Give `add` the learned keyword (file id -> score) and take it back from `remove`, in the keywords table and
    in each file's tag result; returns the files whose result changed (their metadata must be written again)."""
    changed: list[int] = []
    with transaction(conn):
        for file_id in remove:
            conn.execute(
                "DELETE FROM keywords WHERE file_id = ? AND source = ? AND keyword = ? COLLATE NOCASE",
                (file_id, LEARNED, keyword),
            )
            if _edit_result(conn, file_id, keyword, None, label):
                changed.append(file_id)
        for file_id, score in add.items():
            conn.execute(
                "INSERT OR REPLACE INTO keywords (file_id, keyword, score, source, model, hierarchy)"
                " VALUES (?, ?, ?, ?, ?, NULL)",
                (file_id, keyword, round(score, 4), LEARNED, label),
            )
            if _edit_result(conn, file_id, keyword, score, label):
                changed.append(file_id)
    return changed


def _edit_result(conn: sqlite3.Connection, file_id: int, keyword: str, score: float | None, label: str) -> bool:
    row = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = 'tag'", (file_id,)).fetchone()
    if row is None:
        return False
    data = json.loads(row[0])
    folded = keyword.casefold()
    entries = data.get("keywords") or []
    kept = [e for e in entries if not (e.get("source") == LEARNED and str(e.get("keyword", "")).casefold() == folded)]
    withdrawn = [w for w in data.get("withdrawn") or [] if w.casefold() != folded]
    if score is None:
        if len(kept) == len(entries):
            return False
        withdrawn.append(keyword)
    else:
        kept.append(
            {"keyword": keyword, "score": round(score, 4), "hierarchy": None, "source": LEARNED, "model": label}
        )
    data["keywords"] = kept
    data["withdrawn"] = withdrawn
    conn.execute("UPDATE results SET data = ? WHERE file_id = ? AND stage = 'tag'", (json.dumps(data), file_id))
    return True


def requeue_metadata(conn: sqlite3.Connection, file_ids: Iterable[int], stage: str = "metadata") -> int:
    """Send finished photos back to `stage` (their latest job), so the changed keywords reach their files.

    Photos with a job still on its way are left alone: they reach the stage anyway, with the new result.
    """
    now = time.time()
    queued = 0
    with transaction(conn):
        for file_id in file_ids:
            row = conn.execute(
                "SELECT id, state FROM jobs WHERE file_id = ? AND state != 'superseded' ORDER BY id DESC LIMIT 1",
                (file_id,),
            ).fetchone()
            if row is None or row["state"] != "done":
                continue
            conn.execute(
                "UPDATE jobs SET stage = ?, state = 'queued', attempts = 0, claims = 0, error = NULL, wait_reason = NULL,"
                " not_before = 0, lease_owner = NULL, lease_until = NULL, updated_at = ?, finished_at = NULL"
                " WHERE id = ?",
                (stage, now, row["id"]),
            )
            queued += 1
    return queued


def file_ids_for_paths(conn: sqlite3.Connection, paths: Iterable[str]) -> tuple[dict[str, int], list[str]]:
    """(path -> file id, paths the engine does not know)."""
    found: dict[str, int] = {}
    unknown: list[str] = []
    for path in paths:
        row = conn.execute("SELECT id FROM files WHERE path = ? AND present = 1", (path,)).fetchone()
        if row is None:
            unknown.append(path)
        else:
            found[path] = int(row[0])
    return found, unknown


def paths_of(conn: sqlite3.Connection, file_ids: Iterable[int]) -> list[str]:
    """Paths of those of `file_ids` that are present, in the order given."""
    found = []
    for file_id in file_ids:
        row = conn.execute("SELECT path FROM files WHERE id = ? AND present = 1", (file_id,)).fetchone()
        if row is not None:
            found.append(str(row[0]))
    return found


def total_present(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM files WHERE present = 1").fetchone()[0])
