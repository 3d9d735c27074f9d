"""Queries over the full-text index `search_fts` (built and kept in step by triggers, migration 0009).

Full-text matches ranked by BM25 with per-field weights, the filters as SQL, and which words matched in which field.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

from daemon.search.query import FIELDS, Filters, positive_terms
from daemon.store.files import path_range

# BM25 weight per field, in FIELDS order: a keyword or caption hit says more than a folder name.
WEIGHTS = (10.0, 6.0, 4.0, 1.5, 2.0, 2.0, 4.0)
_MARK = re.compile("\x02(.*?)\x03", re.DOTALL)
# Up to this many matches are ranked by BM25; beyond it the most recently added come first, read straight off the
# index in rowid order (ranking 300,000 matches of a common word costs a score for each of them).
RANK_LIMIT = 2000
_WEIGHTS = ", ".join(str(weight) for weight in WEIGHTS)
# A term in more than this share of the photos (and at least COMMON_MIN of them) filters but does not rank when the
# query has a rarer one (ranking_expression); what was counted is remembered for COMMON_TTL_S.
COMMON_SHARE, COMMON_MIN, COMMON_TTL_S = 0.05, 5000, 600.0
_COMMON_SEEN: dict[tuple[int, str], tuple[bool, float]] = {}


def _filter_sql(filters: Filters, sep: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.after:
        clauses.append("media.taken >= ?")
        params.append(filters.after)
    if filters.before:
        clauses.append("media.taken <= ?")
        params.append(filters.before)
    if filters.camera:
        clauses.append("(coalesce(media.make, '') || ' ' || coalesce(media.model, '')) LIKE ? ESCAPE '\\'")
        params.append("%" + _like_escape(filters.camera) + "%")
    if filters.folder:
        clauses.append("files.path >= ? AND files.path < ?")
        params.extend(path_range(filters.folder, sep))
    if filters.keyword:
        clauses.append(
            "EXISTS (SELECT 1 FROM keywords WHERE keywords.file_id = files.id AND keywords.keyword = ? COLLATE NOCASE)"
        )
        params.append(filters.keyword)
    if filters.category:
        clauses.append(
            "EXISTS (SELECT 1 FROM tagging WHERE tagging.file_id = files.id AND tagging.category = ? COLLATE NOCASE)"
        )
        params.append(filters.category)
    if filters.person:
        clauses.append(
            "EXISTS (SELECT 1 FROM faces JOIN people ON people.id = faces.person_id WHERE faces.file_id = files.id"
            " AND faces.removed = 0 AND people.name = ? COLLATE NOCASE)"
        )
        params.append(" ".join(filters.person.split()))
    if filters.min_quality is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM photo_scores WHERE photo_scores.file_id = files.id"
            " AND photo_scores.analyzer = 'quality' AND photo_scores.score >= ?)"
        )
        params.append(filters.min_quality)
    return "".join(f" AND {clause}" for clause in clauses), params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def full_text(
    conn: sqlite3.Connection, expression: str | None, filters: Filters, limit: int, sep: str = "/"
) -> list[dict[str, Any]]:
    """Best matches first (BM25; the most recently added when over RANK_LIMIT match): {file_id, path, taken, score,
    why: [{field, words}]}; by taken date, newest first, when there is no text."""
    where, params = _filter_sql(filters, sep)
    if expression is None:
        rows = conn.execute(
            "SELECT files.id AS file_id, files.path, media.taken, 0.0 AS score FROM files"
            " LEFT JOIN media ON media.file_id = files.id WHERE files.present = 1" + where + ""
            " ORDER BY media.taken DESC, files.id LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [{**dict(row), "why": []} for row in rows]
    candidates = _candidates(conn, expression)
    if len(candidates) > RANK_LIMIT:
        found = _select(conn, expression, where, params, "search_fts.rowid DESC", limit)
    else:
        ranking = ranking_expression(conn, expression)
        if ranking == expression:
            found = _select(conn, expression, where, params, f"bm25(search_fts, {_WEIGHTS})", limit)
        else:  # the selective terms rank the candidates (which hold every term); the common ones only filtered
            among = " AND search_fts.rowid + 0 IN (SELECT value FROM json_each(?))"  # + 0: FTS5 must not seek each
            found = _select(
                conn,
                ranking,
                among + where,
                [json.dumps(sorted(candidates)), *params],
                f"bm25(search_fts, {_WEIGHTS})",
                limit,
            )
    reasons = matched_words(conn, expression, [row["file_id"] for row in found])
    for row in found:
        row["score"] = round(row["score"], 4)
        row["why"] = reasons.get(row["file_id"], [])
    return found


def _select(
    conn: sqlite3.Connection, expression: str, where: str, params: list[Any], order: str, limit: int
) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT search_fts.rowid AS file_id, files.path, media.taken, -bm25(search_fts, {_WEIGHTS}) AS score"
        " FROM search_fts JOIN files ON files.id = search_fts.rowid LEFT JOIN media ON media.file_id = files.id"
        f" WHERE search_fts MATCH ?{where} ORDER BY {order} LIMIT ?",
        (expression, *params, limit),
    ).fetchall()
    return [dict(row) for row in rows]


def _candidates(conn: sqlite3.Connection, expression: str) -> set[int]:
    """The rowids matching `expression`, up to RANK_LIMIT + 1 of them (more means: too many to rank)."""
    rows = conn.execute(
        "SELECT rowid FROM search_fts WHERE search_fts MATCH ? LIMIT ?", (expression, RANK_LIMIT + 1)
    ).fetchall()
    return {row[0] for row in rows}


def by_relevance(conn: sqlite3.Connection, expression: str) -> bool:
    """True when few enough photos match to rank them all (else the newest come first)."""
    return len(_candidates(conn, expression)) <= RANK_LIMIT


def ranking_expression(conn: sqlite3.Connection, expression: str) -> str:
    """The expression BM25 ranks by: without the terms found in more than COMMON_SHARE of the photos, when some
    term is rarer. BM25 weighs a term by log(N / photos holding it) and FTS5 finds that count by reading the term's
    whole posting list on every query (50 ms for a word in half of a million photos); such a term weighs little
    (about 3 against 7-9 for a rare word), and every candidate holds it anyway."""
    terms = positive_terms(expression)
    if len(terms) < 2:
        return expression
    rare = [term for term in terms if not _common(conn, term)]
    return " AND ".join(rare) if rare and len(rare) < len(terms) else expression


def _common(conn: sqlite3.Connection, term: str) -> bool:
    """More than COMMON_SHARE of the photos hold `term` (counted up to that bound, remembered a while)."""
    photos = conn.execute("SELECT max(id) FROM files").fetchone()[0] or 0
    bound = max(COMMON_MIN, int(photos * COMMON_SHARE))
    key = (id(conn), term)
    known = _COMMON_SEEN.get(key)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    count = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH ? LIMIT ?)", (term, bound + 1)
    ).fetchone()[0]
    if len(_COMMON_SEEN) > 10_000:
        _COMMON_SEEN.clear()
    _COMMON_SEEN[key] = (count > bound, time.monotonic() + COMMON_TTL_S)
    return count > bound


def matched_words(conn: sqlite3.Connection, expression: str, file_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per file: the fields where `expression` matched and the words it matched there."""
    if not file_ids:
        return {}
    columns = ", ".join(f"highlight(search_fts, {index}, char(2), char(3))" for index in range(len(FIELDS)))
    marks = ", ".join("?" * len(file_ids))
    reasons: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(
        f"SELECT rowid, {columns} FROM search_fts WHERE search_fts MATCH ? AND rowid IN ({marks})",
        (expression, *file_ids),
    ):
        why = []
        for field, text in zip(FIELDS, tuple(row)[1:], strict=True):
            words = sorted({word.lower() for word in _MARK.findall(text or "")})
            if words:
                why.append({"field": field, "words": words})
        reasons[row[0]] = why
    return reasons


def passing(
    conn: sqlite3.Connection, file_ids: list[int], filters: Filters, sep: str = "/"
) -> dict[int, dict[str, Any]]:
    """Of `file_ids`, the present files that meet `filters`: {file_id: {path, taken}}."""
    if not file_ids:
        return {}
    where, params = _filter_sql(filters, sep)
    marks = ", ".join("?" * len(file_ids))
    rows = conn.execute(
        "SELECT files.id, files.path, media.taken FROM files LEFT JOIN media ON media.file_id = files.id"
        f" WHERE files.present = 1 AND files.id IN ({marks})" + where,
        (*file_ids, *params),
    ).fetchall()
    return {row[0]: {"path": row[1], "taken": row[2]} for row in rows}


def indexed_text(conn: sqlite3.Connection, file_id: int) -> dict[str, str] | None:
    """What the index holds for one file, per field (None when it is not indexed)."""
    row = conn.execute(f"SELECT {', '.join(FIELDS)} FROM search_fts WHERE rowid = ?", (file_id,)).fetchone()
    return None if row is None else {field: row[field] or "" for field in FIELDS}


def naive_like(conn: sqlite3.Connection, words: list[str], limit: int) -> list[int]:
    """The way without an index (for bench/search.py): every word LIKE-matched in every field, a full scan."""
    fields = " || ' ' || ".join(f"coalesce({field}, '')" for field in FIELDS)
    clauses = " AND ".join(f"({fields}) LIKE ?" for _ in words)
    rows = conn.execute(
        f"SELECT file_id FROM search_source WHERE {clauses} LIMIT ?", (*[f"%{word}%" for word in words], limit)
    )
    return [row[0] for row in rows]
