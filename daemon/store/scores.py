"""Whole-photo scores from analyzers (quality, sensitive content) and bursts with their best frame marked.

A burst: frames from one camera, capture times 1..BURST_GAP_S s apart (chained), pHashes near; its best frame gets
the keyword `best of burst` (pseudo-stage result 'burst', read by the metadata stage; a frame that loses it is
sent back to the metadata stage so the keyword leaves its file).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from typing import Any

from daemon.dedup.grouping import CAMERA_TIME_SOURCES

BURST_GAP_S = 2.0
BURST_PHASH = 12  # bits of 64: near-identical frames (a burst of a moving subject differs more than a re-encode)
BEST_KEYWORD = "best of burst"
BEST_HIERARCHY = "Photo|Quality|Best of Burst"
BURST_STAGE = "burst"


def record_score(conn: sqlite3.Connection, file_id: int, analyzer: str, score: float, model: str) -> None:
    conn.execute(
        "INSERT INTO photo_scores (file_id, analyzer, score, model, analyzed_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (file_id, analyzer) DO UPDATE SET score = excluded.score, model = excluded.model,"
        " analyzed_at = excluded.analyzed_at",
        (file_id, analyzer, float(score), model or "", time.time()),
    )


def scores_of(conn: sqlite3.Connection, file_id: int) -> dict[str, float]:
    rows = conn.execute("SELECT analyzer, score FROM photo_scores WHERE file_id = ?", (file_id,))
    return {row[0]: row[1] for row in rows}


def quality_of(conn: sqlite3.Connection, file_ids: list[int]) -> dict[int, float]:
    if not file_ids:
        return {}
    marks = ",".join("?" * len(file_ids))
    rows = conn.execute(
        f"SELECT file_id, score FROM photo_scores WHERE analyzer = 'quality' AND file_id IN ({marks})", file_ids
    )
    return {row[0]: row[1] for row in rows}


def update_burst(conn: sqlite3.Connection, file_id: int, job_id: int) -> list[int]:
    """Place `file_id` in its burst (if any) and mark the burst's best frame; returns the other frames whose mark
    changed (finished ones are sent back to the metadata stage here)."""
    frames = _burst_of(conn, file_id)
    before = {
        row[0]: (row[1], bool(row[2])) for row in _rows(conn, "SELECT file_id, burst_id, best FROM bursts", frames)
    }
    old_bursts = {burst for burst, _ in before.values()}
    if old_bursts:  # frames of the bursts this one joins (two bursts can merge through it)
        marks = ",".join("?" * len(old_bursts))
        frames |= {
            row[0] for row in conn.execute(f"SELECT file_id FROM bursts WHERE burst_id IN ({marks})", [*old_bursts])
        }
        before = {
            row[0]: (row[1], bool(row[2])) for row in _rows(conn, "SELECT file_id, burst_id, best FROM bursts", frames)
        }
    if len(frames) < 2:
        conn.execute("DELETE FROM bursts WHERE file_id = ?", (file_id,))
        return []
    quality = quality_of(conn, sorted(frames))
    best = max(sorted(frames), key=lambda frame: (quality.get(frame, -1.0), -frame))
    burst_id = min(frames)
    changed = []
    for frame in sorted(frames):
        is_best = frame == best
        conn.execute(
            "INSERT INTO bursts (file_id, burst_id, best) VALUES (?, ?, ?)"
            " ON CONFLICT (file_id) DO UPDATE SET burst_id = excluded.burst_id, best = excluded.best",
            (frame, burst_id, int(is_best)),
        )
        if frame != file_id and before.get(frame, (None, False))[1] == is_best:
            continue
        _publish(conn, frame, job_id if frame == file_id else None, burst_id, is_best, len(frames))
        if frame != file_id:
            changed.append(frame)
    _requeue_finished(conn, changed)
    return changed


def burst_of(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """{burst, best, frames: [{file_id, path, quality, best}]} for a file in a burst, else None."""
    row = conn.execute("SELECT burst_id FROM bursts WHERE file_id = ?", (file_id,)).fetchone()
    if row is None:
        return None
    frames = [
        {"file_id": r[0], "path": r[1], "quality": r[2], "best": bool(r[3])}
        for r in conn.execute(
            "SELECT bursts.file_id, files.path, photo_scores.score, bursts.best FROM bursts"
            " JOIN files ON files.id = bursts.file_id LEFT JOIN photo_scores ON photo_scores.file_id = bursts.file_id"
            " AND photo_scores.analyzer = 'quality' WHERE bursts.burst_id = ? ORDER BY bursts.file_id",
            (row[0],),
        )
    ]
    best = next((frame["file_id"] for frame in frames if frame["best"]), None)
    return {"burst": row[0], "best": best, "frames": frames}


def _burst_of(conn: sqlite3.Connection, file_id: int) -> set[int]:
    """The frames linked to `file_id`: same camera, capture times chained at most BURST_GAP_S apart, pHash near."""
    row = conn.execute(
        "SELECT make, model, taken, taken_source, phash FROM media WHERE file_id = ?", (file_id,)
    ).fetchone()
    if row is None or not (row["make"] or row["model"]) or row["phash"] is None:
        return {file_id}
    if row["taken_source"] not in CAMERA_TIME_SOURCES or not row["taken"]:
        return {file_id}
    found, todo = {file_id}, [(row["taken"], row["phash"])]
    while todo:
        taken, phash = todo.pop()
        moment = _moment(taken)
        if moment is None:
            continue
        low, high = (_iso(moment - dt.timedelta(seconds=BURST_GAP_S)), _iso(moment + dt.timedelta(seconds=BURST_GAP_S)))
        for other in conn.execute(
            "SELECT media.file_id, media.taken, media.phash, media.taken_source FROM media"
            " JOIN files ON files.id = media.file_id AND files.present = 1"
            " WHERE media.make IS ? AND media.model IS ? AND media.taken >= ? AND media.taken <= ?",
            (row["make"], row["model"], low, high + "\uffff"),
        ):
            if other[0] in found or other[2] is None or other[3] not in CAMERA_TIME_SOURCES:
                continue
            if (other[1] or "")[:19] == taken[:19]:
                continue  # the same capture time: a copy or an edit of one frame (dedup's business), not a burst
            if _distance(phash, other[2]) <= BURST_PHASH:
                found.add(other[0])
                todo.append((other[1], other[2]))
    return found


def _moment(taken: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(taken[:19])
    except ValueError:
        return None


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _distance(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def _rows(conn: sqlite3.Connection, select: str, file_ids: set[int]) -> list[Any]:
    marks = ",".join("?" * len(file_ids))
    return conn.execute(f"{select} WHERE file_id IN ({marks})", sorted(file_ids)).fetchall()


def _publish(conn: sqlite3.Connection, file_id: int, job_id: int | None, burst_id: int, best: bool, size: int) -> None:
    """The frame's mark as the pseudo-stage result the metadata stage reads, and as a keyword `tags` shows."""
    if job_id is None:
        latest = conn.execute("SELECT max(id) FROM jobs WHERE file_id = ?", (file_id,)).fetchone()
        job_id = latest[0] or 0
    data = json.dumps({"burst": burst_id, "best": best, "frames": size})
    conn.execute(
        "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, ?, ?, ?, 0, ?)"
        " ON CONFLICT (file_id, stage) DO UPDATE SET job_id = excluded.job_id, data = excluded.data,"
        " recorded_at = excluded.recorded_at",
        (file_id, BURST_STAGE, job_id, data, time.time()),
    )
    conn.execute("DELETE FROM keywords WHERE file_id = ? AND source = ?", (file_id, BURST_STAGE))
    if best:
        conn.execute(
            "INSERT OR REPLACE INTO keywords (file_id, keyword, score, source, model, hierarchy)"
            " VALUES (?, ?, NULL, ?, NULL, ?)",
            (file_id, BEST_KEYWORD, BURST_STAGE, BEST_HIERARCHY),
        )


def _requeue_finished(conn: sqlite3.Connection, file_ids: list[int]) -> None:
    """Finished frames whose mark changed write their file again (a frame still on its way reads the new mark)."""
    now = time.time()
    for file_id in file_ids:
        if (
            conn.execute("SELECT 1 FROM results WHERE file_id = ? AND stage = 'metadata'", (file_id,)).fetchone()
            is None
        ):
            continue  # no metadata stage wrote it (switched off): nothing to take back
        conn.execute(
            "UPDATE jobs SET stage = 'metadata', state = 'queued', attempts = 0, claims = 0, error = NULL,"
            " wait_reason = NULL, not_before = 0, lease_owner = NULL, lease_until = NULL, finished_at = NULL,"
            " updated_at = ? WHERE id = (SELECT max(id) FROM jobs WHERE file_id = ? AND state != 'superseded')"
            " AND state = 'done'",
            (now, file_id),
        )
