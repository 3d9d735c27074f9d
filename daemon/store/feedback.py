"""The user's verdicts on the tagging model's own keywords, and the per-keyword adjustments made from them.

A verdict is a review-app correction (reject / add) of a keyword the model proposed on that photo, kept with the
model's score then; an adjustment (raised threshold, muted, kept) is what the tag stage applies to new photos.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from daemon.store import settings
from daemon.store.connection import transaction

AUTO = "auto"
SEEN_KEY = "vocabulary.corrections_seen"
GENERATION_KEY = "vocabulary.generation"
STATES = ("raised", "muted", "kept")


def collect(conn: sqlite3.Connection) -> set[str]:
    """Turn the keyword corrections made since the last call into verdicts; returns the keywords judged anew.

    Only keywords the model proposed on that photo count (their score is in the photo's tag result); a keyword the
    user typed in, or a taught one, is no verdict on the model."""
    if not _has_corrections(conn):
        return set()
    seen = int(settings.get(conn, SEEN_KEY) or 0)
    rows = conn.execute(
        "SELECT id, file_id, kind, value, at FROM corrections WHERE id > ?"
        " AND kind IN ('reject_keyword', 'add_keyword') ORDER BY id",
        (seen,),
    ).fetchall()
    if not rows:
        return set()
    judged: dict[str, str] = {}  # case-folded -> as the model spells it
    with transaction(conn):
        for row in rows:
            proposed = _proposed(conn, int(row["file_id"]), str(row["value"]))
            if proposed is None:
                continue
            keyword, score = proposed
            verdict = "rejected" if row["kind"] == "reject_keyword" else "accepted"
            conn.execute(
                "INSERT INTO keyword_feedback (keyword, file_id, verdict, score, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (keyword, file_id) DO UPDATE SET verdict = excluded.verdict, at = excluded.at",
                (keyword, row["file_id"], verdict, score, row["at"]),
            )
            judged[keyword.casefold()] = keyword
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SEEN_KEY, str(rows[-1]["id"])),
        )
    return set(judged.values())


def _proposed(conn: sqlite3.Connection, file_id: int, keyword: str) -> tuple[str, float] | None:
    """(the keyword as the model spelled it, its score) when the model proposed `keyword` on this photo."""
    row = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = 'tag'", (file_id,)).fetchone()
    if row is None:
        return None
    folded = keyword.casefold()
    for entry in json.loads(row[0]).get("keywords") or []:
        if entry.get("source", AUTO) != AUTO or entry.get("score") is None:
            continue  # a taught keyword, or a fact (blurry, dark): not the model's guess
        if str(entry.get("keyword", "")).casefold() == folded:
            return str(entry["keyword"]), float(entry["score"])
    return None


def _has_corrections(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'corrections'").fetchone() is not None
    )


def verdicts(conn: sqlite3.Connection, keyword: str) -> list[tuple[str, float]]:
    """(verdict, score) of every judged proposal of `keyword`."""
    rows = conn.execute("SELECT verdict, score FROM keyword_feedback WHERE keyword = ?", (keyword,))
    return [(str(row[0]), float(row[1])) for row in rows]


# --- adjustments ---


def adjustment(conn: sqlite3.Connection, keyword: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM keyword_adjustments WHERE keyword = ?", (keyword,)).fetchone()
    return None if row is None else dict(row)


def adjustments(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Case-folded keyword -> its adjustment."""
    rows = conn.execute("SELECT * FROM keyword_adjustments ORDER BY keyword COLLATE NOCASE")
    return {str(row["keyword"]).casefold(): dict(row) for row in rows}


def save_adjustment(
    conn: sqlite3.Connection,
    keyword: str,
    state: str,
    threshold: float | None,
    accepted: int,
    rejected: int,
    reason: str,
) -> None:
    if state not in STATES:
        raise ValueError(f"adjustment state must be one of {', '.join(STATES)}, not {state!r}")
    with transaction(conn):
        conn.execute(
            "INSERT INTO keyword_adjustments (keyword, state, threshold, accepted, rejected, reason, changed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (keyword) DO UPDATE SET state = excluded.state,"
            " threshold = excluded.threshold, accepted = excluded.accepted, rejected = excluded.rejected,"
            " reason = excluded.reason, changed_at = excluded.changed_at",
            (keyword, state, threshold, accepted, rejected, reason, time.time()),
        )
        _bump(conn)


def clear_adjustment(conn: sqlite3.Connection, keyword: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM keyword_adjustments WHERE keyword = ?", (keyword,))
        _bump(conn)


def generation(conn: sqlite3.Connection) -> str:
    """Changes whenever an adjustment does (the tag stage reloads its copy then)."""
    return settings.get(conn, GENERATION_KEY) or "0"


def _bump(conn: sqlite3.Connection) -> None:
    current = conn.execute("SELECT value FROM settings WHERE key = ?", (GENERATION_KEY,)).fetchone()
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (GENERATION_KEY, str(int(current[0]) + 1 if current else 1)),
    )


# --- statistics and the library ---


def statistics(conn: sqlite3.Connection, every_keyword: bool = False) -> list[dict[str, Any]]:
    """Per model keyword: photos it is on (untouched), accepted, rejected, and its adjustment.

    Without `every_keyword`, only keywords the user judged at least once or that carry an adjustment."""
    stats: dict[str, dict[str, Any]] = {}

    def entry(keyword: str) -> dict[str, Any]:
        return stats.setdefault(
            keyword.casefold(),
            {"keyword": keyword, "proposed": 0, "accepted": 0, "rejected": 0, "untouched": 0, "adjustment": None},
        )

    for keyword, verdict, count in conn.execute(
        "SELECT keyword, verdict, COUNT(*) FROM keyword_feedback GROUP BY keyword COLLATE NOCASE, verdict"
    ):
        entry(keyword)[verdict] += int(count)
    for keyword, count in conn.execute(
        "SELECT keywords.keyword, COUNT(*) FROM keywords WHERE keywords.source = ? AND keywords.score IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM keyword_feedback WHERE keyword_feedback.file_id = keywords.file_id"
        " AND keyword_feedback.keyword = keywords.keyword COLLATE NOCASE)"
        " GROUP BY keywords.keyword COLLATE NOCASE",
        (AUTO,),
    ):
        if every_keyword or keyword.casefold() in stats:
            entry(keyword)["untouched"] += int(count)
    for folded, info in adjustments(conn).items():
        if info["state"] != "kept" or folded in stats:
            entry(info["keyword"])["adjustment"] = info
    for info in stats.values():
        info["proposed"] = info["accepted"] + info["rejected"] + info["untouched"]
    return sorted(stats.values(), key=lambda s: (-s["rejected"], -s["proposed"], s["keyword"].casefold()))


def proposals_to_withdraw(conn: sqlite3.Connection, keyword: str, below: float | None) -> list[int]:
    """Photos carrying `keyword` as the model's proposal (score under `below`, or all when None) that the user has
    not judged: the proposals an adjustment takes back."""
    rows = conn.execute(
        "SELECT file_id FROM keywords WHERE source = ? AND keyword = ? COLLATE NOCASE AND score IS NOT NULL"
        " AND (? IS NULL OR score < ?) AND NOT EXISTS (SELECT 1 FROM keyword_feedback WHERE keyword_feedback.file_id"
        " = keywords.file_id AND keyword_feedback.keyword = keywords.keyword COLLATE NOCASE)"
        " ORDER BY file_id",
        (AUTO, keyword, below, below),
    )
    return [int(row[0]) for row in rows]


def withdraw(conn: sqlite3.Connection, keyword: str, file_ids: Iterable[int]) -> list[int]:
    """Take the model's proposal of `keyword` back from these photos (row and tag result; the result's "withdrawn"
    tells the metadata stage to remove it where the engine wrote it); returns the photos whose result changed."""
    changed: list[int] = []
    folded = keyword.casefold()
    with transaction(conn):
        for file_id in file_ids:
            conn.execute(
                "DELETE FROM keywords WHERE file_id = ? AND source = ? AND keyword = ? COLLATE NOCASE",
                (file_id, AUTO, keyword),
            )
            row = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = 'tag'", (file_id,)).fetchone()
            if row is None:
                continue
            data = json.loads(row[0])
            entries = data.get("keywords") or []
            taken = [
                e for e in entries if e.get("source", AUTO) == AUTO and str(e.get("keyword", "")).casefold() == folded
            ]
            if not taken:
                continue
            data["keywords"] = [e for e in entries if e not in taken]
            withdrawn = [w for w in data.get("withdrawn") or [] if w.casefold() != folded]
            data["withdrawn"] = [*withdrawn, str(taken[0]["keyword"])]
            conn.execute("UPDATE results SET data = ? WHERE file_id = ? AND stage = 'tag'", (json.dumps(data), file_id))
            changed.append(file_id)
    return changed


def export_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Adjustments as a small list for the learned-state file (verdicts stay: they name photos of this machine)."""
    fields = ("keyword", "state", "threshold", "accepted", "rejected", "reason")
    return [{name: info[name] for name in fields} for info in adjustments(conn).values()]
