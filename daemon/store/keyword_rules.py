"""Keyword rules from the Keywords page: rename / merge / synonym ('map' a keyword to another) and 'exclude'.

A rule is applied to the photos that carry the keyword now (per-file corrections, metadata stage re-run) and to
every later tagging: the tag recorder turns a mapped keyword into the user's target and drops an excluded one.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from daemon.store import corrections
from daemon.store.connection import transaction

KINDS = ("map", "exclude")
BY = "keyword rule"


def add(conn: sqlite3.Connection, keyword: str, kind: str, target: str | None = None) -> None:
    """Record a rule; rules that pointed at `keyword` now point where it goes, and a rule for `target` itself
    goes (the target is a name in use now), so rules never chain or loop."""
    keyword, target = " ".join(keyword.split()), " ".join((target or "").split()) or None
    if not keyword:
        raise ValueError("name a keyword")
    if kind not in KINDS:
        raise ValueError(f"a keyword rule maps or excludes, not {kind!r}")
    if kind == "map" and (target is None or target.casefold() == keyword.casefold()):
        raise ValueError("name another keyword to rename or merge into")
    with transaction(conn):
        if target is not None:
            conn.execute("DELETE FROM keyword_rules WHERE keyword = ?", (target,))
        conn.execute(
            "UPDATE keyword_rules SET kind = ?, target = ? WHERE kind = 'map' AND target = ? COLLATE NOCASE",
            (kind, target, keyword),
        )
        conn.execute(
            "INSERT INTO keyword_rules (keyword, kind, target, decided_at) VALUES (?, ?, ?, ?) ON CONFLICT (keyword)"
            " DO UPDATE SET kind = excluded.kind, target = excluded.target, decided_at = excluded.decided_at",
            (keyword, kind, target if kind == "map" else None, time.time()),
        )


def listing(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute("SELECT * FROM keyword_rules ORDER BY keyword COLLATE NOCASE")]


def apply_to_tagging(conn: sqlite3.Connection, file_id: int, keywords: list[str]) -> None:
    """Inside the tag recorder's transaction: each keyword a rule names is rejected on this file and its target
    added as the user's (so the file and `image-engine tags` say what the rule says, across every re-tagging)."""
    wanted = {keyword.casefold() for keyword in keywords}
    if not wanted:
        return
    for keyword, kind, target in conn.execute("SELECT keyword, kind, target FROM keyword_rules").fetchall():
        if keyword.casefold() not in wanted:
            continue
        corrections.correct_keyword_within(conn, file_id, keyword, "reject", by=BY)
        if kind == "map" and target:
            corrections.correct_keyword_within(conn, file_id, target, "add", by=BY)


def in_flight(conn: sqlite3.Connection, file_ids: list[int]) -> int:
    """How many of these photos still have their job queued, running or waiting (the rewrite's progress)."""
    busy = 0
    for start in range(0, len(file_ids), 500):
        chunk = file_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        busy += conn.execute(
            f"SELECT COUNT(DISTINCT file_id) FROM jobs WHERE file_id IN ({marks})"
            " AND state IN ('queued', 'running', 'waiting')",
            chunk,
        ).fetchone()[0]
    return busy
