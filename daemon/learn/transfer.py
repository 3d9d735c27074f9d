"""Learned state as a small JSON file: taught keywords (classifiers, examples by content hash) and the thresholds the
user's corrections raised or the model keywords they muted, to move to another machine.

Import stores each classifier and adjustment as sent and links the examples it finds here (same content, else path).
"""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

import numpy as np

from daemon.store import feedback, learned

FORMAT = "image-engine-taught-keywords"
VERSION = 1


def export(conn: sqlite3.Connection, keywords: list[str] | None = None) -> dict[str, Any]:
    entries = []
    for info in learned.classifiers(conn):
        if keywords and info["keyword"].casefold() not in {k.casefold() for k in keywords}:
            continue
        weights = info["weights"]
        entries.append(
            {
                "keyword": info["keyword"],
                "model": info["model"],
                "state": info["state"],
                "message": info["message"],
                "weights": None if weights is None else base64.b64encode(weights.astype("<f4").tobytes()).decode(),
                "intercept": info["intercept"],
                "threshold": info["threshold"],
                "precision": info["precision"],
                "recall": info["recall"],
                "positives": info["positives"],
                "negatives": info["negatives"],
                "would_tag": info["would_tag"],
                "examples": learned.example_files(conn, info["keyword"]),
            }
        )
    vocabulary = [] if keywords else feedback.export_rows(conn)
    return {"format": FORMAT, "version": VERSION, "keywords": entries, "vocabulary": vocabulary}


def import_(conn: sqlite3.Connection, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Store what `data` holds; returns per keyword how many examples were found here."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a taught-keywords file (expected format {FORMAT!r})")
    if int(data.get("version", 0)) > VERSION:
        raise ValueError(f"taught-keywords file version {data.get('version')} is newer than this engine reads")
    done = []
    for entry in data.get("keywords") or []:
        keyword = str(entry.get("keyword") or "").strip()
        if not keyword:
            raise ValueError("a taught keyword without a name")
        linked = {0: 0, 1: 0}
        missing = 0
        for example in entry.get("examples") or []:
            label = 1 if int(example.get("label", 1)) else 0
            ids = learned.file_ids_by_hash_or_path(conn, example.get("sha256"), example.get("path"))
            if ids:
                learned.add_examples(conn, keyword, ids, label)
                linked[label] += len(ids)
            else:
                missing += 1
        encoded = entry.get("weights")
        weights = None if not encoded else np.frombuffer(base64.b64decode(encoded), dtype="<f4").copy()
        learned.save_classifier(
            conn,
            keyword,
            **{
                name: entry.get(name)
                for name in learned.CLASSIFIER_FIELDS
                if name not in ("weights", "would_tag") and name in entry
            },
            weights=weights,
            would_tag=int(entry.get("would_tag") or 0),
        )
        done.append({"keyword": keyword, "examples": linked[1], "counter_examples": linked[0], "not_here": missing})
    for row in data.get("vocabulary") or []:
        keyword = str(row.get("keyword") or "").strip()
        state = row.get("state")
        if not keyword or state not in feedback.STATES:
            raise ValueError(f"a keyword adjustment needs a keyword and a state ({', '.join(feedback.STATES)}): {row}")
        threshold = row.get("threshold")
        if state == "raised" and not isinstance(threshold, (int, float)):
            raise ValueError(f"{keyword}: a raised threshold needs a number, not {threshold!r}")
        feedback.save_adjustment(
            conn,
            keyword,
            state,
            None if threshold is None else float(threshold),
            int(row.get("accepted") or 0),
            int(row.get("rejected") or 0),
            str(row.get("reason") or ""),
        )
    return done
