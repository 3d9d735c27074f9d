"""Taught keywords for the tag stage: the ready classifiers, reloaded from the store when one changes.

The stage calls `keywords(model, embedding)` for each new photo and adds what comes back with source `learned`, and
`model_keywords(entries)` to drop the model's keywords the user's corrections muted or raised the threshold of.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from daemon.learn.classifier import probability
from daemon.store import feedback, learned

log = logging.getLogger("image_engine.learn")


def version_label(version: int) -> str:
    """What a learned keyword records as its model: which version of its classifier tagged it."""
    return f"learned v{version}"


class LearnedKeywords:
    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self._connect = connect
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._ready: list[dict[str, Any]] = []
        self._adjustments: dict[str, dict[str, Any]] = {}

    def keywords(self, model: str, embedding: np.ndarray | None, file_id: int | None = None) -> list[dict[str, Any]]:
        """The taught keywords this embedding earns; never one the user said this photo is not."""
        if embedding is None:
            return []
        found = []
        vector = np.asarray(embedding, dtype=np.float32).ravel()
        for entry in self._current():
            if entry["model"] != model or entry["weights"] is None or len(entry["weights"]) != len(vector):
                continue
            if file_id is not None and file_id in entry["rejected"]:
                continue
            decision = float(vector @ entry["weights"] + entry["intercept"])
            if decision >= entry["threshold"]:
                found.append(
                    {
                        "keyword": entry["keyword"],
                        "score": round(probability(decision), 4),
                        "hierarchy": None,
                        "source": learned.LEARNED,
                        "model": version_label(entry["version"]),
                    }
                )
        return found

    def model_keywords(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The model's keyword entries less those the user's corrections stopped (muted, or scored under a raised
        threshold); facts (no score) and other sources pass."""
        self._current()
        if not self._adjustments:
            return entries
        return [entry for entry in entries if not self._stopped(entry)]

    def _stopped(self, entry: dict[str, Any]) -> bool:
        adjusted = self._adjustments.get(str(entry.get("keyword", "")).casefold())
        score = entry.get("score")
        if adjusted is None or entry.get("source", "auto") != "auto" or score is None:
            return False
        return adjusted["state"] == "muted" or (adjusted["state"] == "raised" and score < adjusted["threshold"])

    def _current(self) -> list[dict[str, Any]]:
        with self._lock:
            try:
                conn = self._connect()
                generation = f"{learned.generation(conn)}/{feedback.generation(conn)}"
                if generation != self._generation:
                    self._adjustments = feedback.adjustments(conn)
                    self._ready = [c for c in learned.classifiers(conn) if c["state"] == "ready"]
                    for entry in self._ready:
                        labels = learned.examples(conn, entry["keyword"])
                        entry["rejected"] = {file_id for file_id, label in labels.items() if label == 0}
                    self._generation = generation
            except sqlite3.Error as exc:  # a photo is tagged without taught keywords rather than not at all
                log.warning("taught keywords unavailable", extra={"event": "learn_unavailable", "error": str(exc)})
            return self._ready
