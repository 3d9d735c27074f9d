"""Reads and small writes of the review app: job lists with filters, the library grid, one photo's story.

Keyset pagination everywhere (taken date, id): a page costs the same at the first photo and the 100,000th.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from daemon.store import corrections, tagging
from daemon.store.connection import transaction
from daemon.store.files import path_range

PAGE = 60


def jobs(
    conn: sqlite3.Connection,
    state: str | None = None,
    stage: str | None = None,
    text: str | None = None,
    limit: int = 100,
    folder: str | None = None,
) -> list[dict[str, Any]]:
    sql = (
        "SELECT jobs.id, files.path, jobs.stage, jobs.state, jobs.attempts, jobs.error, jobs.wait_reason,"
        " jobs.updated_at, files.id AS file_id FROM jobs JOIN files ON files.id = jobs.file_id"
        " WHERE jobs.state != 'superseded'"
    )
    params: list[Any] = []
    for column, value in (("jobs.state", state), ("jobs.stage", stage)):
        if value:
            sql += f" AND {column} = ?"
            params.append(value)
    if folder:
        sql += " AND files.path >= ? AND files.path < ?"
        params += list(path_range(folder, os.sep))
    if text:
        sql += " AND (instr(lower(files.path), lower(?)) > 0 OR instr(lower(ifnull(jobs.error, '')), lower(?)) > 0)"
        params += [text, text]
    sql += " ORDER BY jobs.updated_at DESC, jobs.id DESC LIMIT ?"
    params.append(limit)
    return [dict(row) for row in conn.execute(sql, params)]


def done_per_hour(conn: sqlite3.Connection, now: float | None = None, hours: int = 24) -> list[int]:
    """Jobs finished in each of the last `hours` hours, oldest first (reads the finished_at index range)."""
    now = time.time() if now is None else now
    start = now - hours * 3600
    counts = [0] * hours
    for row in conn.execute(
        "SELECT CAST((finished_at - ?) / 3600 AS INTEGER), COUNT(*) FROM jobs"
        " WHERE finished_at >= ? AND state = 'done' GROUP BY 1",
        (start, start),
    ):
        if 0 <= row[0] < hours:
            counts[row[0]] += row[1]
    return counts


def vocabulary(conn: sqlite3.Connection, limit: int = 2000) -> list[str]:
    """Keywords in use, most used first: the completion list of the photo page."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT keyword FROM keywords GROUP BY keyword COLLATE NOCASE ORDER BY COUNT(*) DESC, keyword LIMIT ?",
            (limit,),
        )
    ]


def keyword_counts(conn: sqlite3.Connection, limit: int = 5000) -> list[dict[str, Any]]:
    """The vocabulary in use: each keyword with how many present photos carry it and from which sources."""
    return [
        dict(row)
        for row in conn.execute(
            "SELECT keyword, COUNT(DISTINCT keywords.file_id) AS photos, group_concat(DISTINCT source) AS sources"
            " FROM keywords JOIN files ON files.id = keywords.file_id WHERE files.present = 1"
            " GROUP BY keyword COLLATE NOCASE ORDER BY photos DESC, keyword LIMIT ?",
            (limit,),
        )
    ]


def stages_seen(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT DISTINCT stage FROM jobs ORDER BY stage")]


def retry_job(conn: sqlite3.Connection, job_id: int, now: float | None = None) -> bool:
    """Queue one failed job again from the stage it failed at; False when it is not (or no longer) failed."""
    now = time.time() if now is None else now
    with transaction(conn):
        return (
            conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, claims = 0, not_before = 0, updated_at = ?"
                " WHERE id = ? AND state = 'failed'",
                (now, job_id),
            ).rowcount
            == 1
        )


def library_page(
    conn: sqlite3.Connection,
    keyword: str | None = None,
    folder: str | None = None,
    camera: str | None = None,
    after: tuple[str, int] | None = None,
    limit: int = PAGE,
    category: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    """Present photos newest first; returns the page and the cursor of the next one (None at the end).

    `since` / `until` are dates (YYYY-MM-DD), both days included; photos without a date match neither."""
    sql = (
        "SELECT files.id, files.path, files.sha256, media.taken, media.make, media.model, ifnull(media.taken, '') AS k"
        " FROM media INDEXED BY media_taken JOIN files ON files.id = media.file_id WHERE files.present = 1"
    )
    params: list[Any] = []
    if after is not None:
        # Spelled so the index seeks to the cursor (a row-value comparison would scan up to it).
        sql += " AND ifnull(media.taken, '') <= ? AND (ifnull(media.taken, '') < ? OR media.file_id < ?)"
        params += [after[0], after[0], after[1]]
    if keyword:
        sql += " AND EXISTS (SELECT 1 FROM keywords WHERE keywords.file_id = files.id AND keyword = ? COLLATE NOCASE)"
        params.append(keyword)
    if folder:
        sql += " AND files.path >= ? AND files.path < ?"
        params += list(path_range(folder, os.sep))
    if camera:
        sql += " AND (media.model = ? OR media.make = ?)"
        params += [camera, camera]
    if category:
        sql += (  # the user's category where they gave one, else the tagger's
            " AND ifnull((SELECT value FROM corrections WHERE corrections.file_id = files.id AND kind = 'category'),"
            " (SELECT category FROM tagging WHERE tagging.file_id = files.id)) = ? COLLATE NOCASE"
        )
        params.append(category)
    if since:
        sql += " AND media.taken >= ?"
        params.append(since)
    if until:
        sql += " AND media.taken < ?"
        params.append(until + "\uffff")  # the whole last day: '2020-05-04T18:44' sorts below '2020-05-04\uffff'
    sql += " ORDER BY ifnull(media.taken, '') DESC, media.file_id DESC LIMIT ?"
    params.append(limit + 1)
    rows = [dict(row) for row in conn.execute(sql, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1]["k"], rows[-1]["id"]) if more else None)


def search(conn: sqlite3.Connection, text: str, limit: int = 200) -> list[dict[str, Any]]:
    """Present photos whose keywords or caption contain `text` (any case), newest first."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [
        dict(row)
        for row in conn.execute(
            "SELECT files.id, files.path, files.sha256, media.taken FROM files LEFT JOIN media ON media.file_id = files.id"
            " WHERE files.present = 1 AND (EXISTS (SELECT 1 FROM keywords WHERE keywords.file_id = files.id"
            " AND keyword LIKE ? ESCAPE '\\') OR EXISTS (SELECT 1 FROM tagging WHERE tagging.file_id = files.id"
            " AND caption LIKE ? ESCAPE '\\'))"
            " ORDER BY ifnull(media.taken, '') DESC, files.id DESC LIMIT ?",
            (pattern, pattern, limit),
        )
    ]


def photos_at(conn: sqlite3.Connection, paths: list[str]) -> list[dict[str, Any]]:
    """Grid rows for these paths, in the order given (e.g. most similar first); unknown paths are left out."""
    found = []
    for path in paths:
        row = conn.execute(
            "SELECT files.id, files.path, files.sha256, media.taken FROM files LEFT JOIN media"
            " ON media.file_id = files.id WHERE files.path = ? AND files.present = 1",
            (path,),
        ).fetchone()
        if row is not None:
            found.append(dict(row))
    return found


def categories(conn: sqlite3.Connection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT category FROM tagging WHERE category IS NOT NULL"
            " UNION SELECT value FROM corrections WHERE kind = 'category' ORDER BY 1"
        )
    ]


def cameras(conn: sqlite3.Connection) -> list[str]:
    """Camera models in use: one index seek per model (a DISTINCT would read all 100,000 rows)."""
    return [
        row[0]
        for row in conn.execute(
            "WITH RECURSIVE c(m) AS (SELECT (SELECT MIN(model) FROM media) UNION ALL"
            " SELECT (SELECT MIN(model) FROM media WHERE model > c.m) FROM c WHERE c.m IS NOT NULL)"
            " SELECT m FROM c WHERE m IS NOT NULL"
        )
    ]


def photo(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """Everything the photo page shows: facts, keywords with source and score, duplicates, rename history."""
    row = conn.execute(
        "SELECT files.id, files.path, files.size, files.sha256, files.present, media.* FROM files"
        " LEFT JOIN media ON media.file_id = files.id WHERE files.id = ?",
        (file_id,),
    ).fetchone()
    if row is None:
        return None
    info = dict(row)
    info["id"] = file_id
    info["tags"] = tagging.tags_of(conn, file_id)
    users = {k["keyword"].casefold() for k in info["tags"]["keywords"] if k["source"] == "user"}
    info["tags"]["keywords"] = [  # an accepted keyword shows once, as the user's
        k for k in info["tags"]["keywords"] if k["source"] == "user" or k["keyword"].casefold() not in users
    ]
    info["corrections"] = corrections.history(conn, file_id)
    probed = conn.execute(
        "SELECT json_extract(data, '$.lens') FROM results WHERE file_id = ? AND stage = 'probe'", (file_id,)
    ).fetchone()
    info["lens"] = probed[0] if probed else None
    info["duplicates"] = [
        dict(other)
        for other in conn.execute(
            "SELECT files.id, files.path, dedup_groups.keeper = files.id AS keeper, dedup_groups.keeper_reason"
            " FROM dedup_members AS mine JOIN dedup_members AS others ON others.group_id = mine.group_id"
            " JOIN files ON files.id = others.file_id JOIN dedup_groups ON dedup_groups.id = mine.group_id"
            " WHERE mine.file_id = ? AND others.file_id != ?",
            (file_id, file_id),
        )
    ]
    info["renames"] = [
        dict(move)
        for move in conn.execute(
            "SELECT id, job_id, kind, state, src, dest, reason, created_at FROM rename_journal WHERE file_id = ?"
            " ORDER BY id DESC LIMIT 50",
            (file_id,),
        )
    ]
    return info


def thumbnail_sources(conn: sqlite3.Connection, after: int, limit: int) -> list[tuple[int, str, str, int | None]]:
    """(id, path, content hash, orientation) of present, hashed files with id > `after`, in id order."""
    return [
        (row[0], row[1], row[2], row[3])
        for row in conn.execute(
            "SELECT files.id, files.path, files.sha256, media.orientation FROM files"
            " LEFT JOIN media ON media.file_id = files.id"
            " WHERE files.id > ? AND files.present = 1 AND files.sha256 IS NOT NULL ORDER BY files.id LIMIT ?",
            (after, limit),
        )
    ]


def image_source(conn: sqlite3.Connection, file_id: int) -> tuple[str, str, int | None] | None:
    """(path, content hash, EXIF orientation) of a present, hashed file; None otherwise."""
    row = conn.execute(
        "SELECT files.path, files.sha256, media.orientation FROM files LEFT JOIN media ON media.file_id = files.id"
        " WHERE files.id = ? AND files.present = 1 AND files.sha256 IS NOT NULL",
        (file_id,),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])
