"""The analyze stage's table (OCR text with its line boxes and confidence) and the queries that read it back.

Runs inside the completion transaction; the search index follows `ocr_text` by triggers (migration 0010).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from daemon.store import scores

if TYPE_CHECKING:
    from daemon.store.queue import Job


def record_analyze(conn: sqlite3.Connection, job: Job, data: Mapping[str, Any]) -> None:
    """Each analyzer's keywords (source `analyzer:NAME`), its `score` field (store/scores.py: quality also places the
    photo in its burst), and the OCR text; an analyzer that failed keeps its last."""
    for name, found in (data.get("analyzers") or {}).items():
        if "error" in found:
            continue
        source = f"analyzer:{name}"
        conn.execute("DELETE FROM keywords WHERE file_id = ? AND source = ?", (job.file_id, source))
        conn.executemany(
            "INSERT OR REPLACE INTO keywords (file_id, keyword, score, source, model, hierarchy) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (job.file_id, k["keyword"], k.get("score"), source, found.get("model"), k.get("hierarchy"))
                for k in found.get("keywords") or []
                if k.get("keyword")
            ],
        )
        score = (found.get("fields") or {}).get("score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            scores.record_score(conn, job.file_id, name, score, found.get("model") or "")
            if name == "quality":
                scores.update_burst(conn, job.file_id, job.id)
    found = (data.get("analyzers") or {}).get("ocr")
    if found is None or "error" in found:
        return  # OCR off, or it failed this time: what an earlier run read stays
    if not found.get("text"):
        conn.execute("DELETE FROM ocr_text WHERE file_id = ?", (job.file_id,))
        return
    lines = [{"text": r["text"], "confidence": r["confidence"], "box": r["box"]} for r in found.get("regions", [])]
    conn.execute(
        "INSERT INTO ocr_text (file_id, model, text, lines, width, height, analyzed_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (file_id) DO UPDATE SET model = excluded.model, text = excluded.text, lines = excluded.lines,"
        " width = excluded.width, height = excluded.height, analyzed_at = excluded.analyzed_at",
        (
            job.file_id,
            found.get("model") or "",
            found["text"],
            json.dumps(lines, ensure_ascii=False),
            found.get("width") or 0,
            found.get("height") or 0,
            time.time(),
        ),
    )


def text_of(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """The stored OCR text of one file with its lines ({text, confidence, box}), or None."""
    row = conn.execute("SELECT * FROM ocr_text WHERE file_id = ?", (file_id,)).fetchone()
    if row is None:
        return None
    return {**dict(row), "lines": json.loads(row["lines"])}
