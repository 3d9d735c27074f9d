"""People: named or not, confirmed by the user or formed by clustering; list, name, merge, split, remove a face.

Every change the user makes is final: the faces it touches get assigned_by 'user' and are never moved by the engine.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from daemon.store import faces as faces_store


def create(conn: sqlite3.Connection, name: str | None = None, source: str = "cluster", confirmed: bool = False) -> int:
    now = time.time()
    cursor = conn.execute(
        "INSERT INTO people (name, confirmed, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (name, int(confirmed), source, now, now),
    )
    return int(cursor.lastrowid or 0)


def by_name(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM people WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
    return None if row is None else int(row[0])


def named(conn: sqlite3.Connection, name: str, source: str) -> int:
    """The person called `name`, created (confirmed: a name is the user's word) when there is none yet."""
    found = by_name(conn, name)
    return found if found is not None else create(conn, name, source, confirmed=True)


def get(conn: sqlite3.Connection, person_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT id, name, confirmed, source FROM people WHERE id = ?", (person_id,)).fetchone()
    return None if row is None else {"id": row[0], "name": row[1], "confirmed": bool(row[2]), "source": row[3]}


def find(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """A person by id ("12") or by name ("Anna")."""
    if key.strip().isdigit():
        return get(conn, int(key))
    found = by_name(conn, " ".join(key.split()))
    return None if found is None else get(conn, found)


def listing(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every person with faces in present photos: id, name, face count, photo count, a sample photo (the
    best-scored face's)."""
    rows = conn.execute(
        "WITH listed AS (SELECT people.id, people.name, people.confirmed, COUNT(faces.id) AS faces,"
        " COUNT(DISTINCT faces.file_id) AS photos, (SELECT best.id FROM faces AS best JOIN files"
        "  ON files.id = best.file_id WHERE best.person_id = people.id AND files.present = 1"
        "  ORDER BY best.score IS NULL, best.score DESC LIMIT 1) AS sample_face"
        " FROM people JOIN faces ON faces.person_id = people.id JOIN files AS shown ON shown.id = faces.file_id"
        " WHERE shown.present = 1 GROUP BY people.id)"
        " SELECT listed.*, sample.file_id, files.path FROM listed JOIN faces AS sample ON sample.id = listed.sample_face"
        " JOIN files ON files.id = sample.file_id ORDER BY listed.name IS NULL, listed.faces DESC, listed.id"
    ).fetchall()
    return [
        {
            "id": r[0],
            "name": r[1],
            "confirmed": bool(r[2]),
            "faces": r[3],
            "photos": r[4],
            "sample": r[7],
            "sample_id": r[6],
            "sample_face": r[5],
        }
        for r in rows
    ]


def photos(conn: sqlite3.Connection, person_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT DISTINCT files.id, files.path FROM faces JOIN files ON files.id = faces.file_id"
        " WHERE faces.person_id = ? AND files.present = 1 ORDER BY files.path",
        (person_id,),
    ).fetchall()
    return [{"file_id": r[0], "path": r[1]} for r in rows]


def file_ids(conn: sqlite3.Connection, person_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT DISTINCT file_id FROM faces WHERE person_id = ?", (person_id,))]


def rename(conn: sqlite3.Connection, person_id: int, name: str) -> None:
    """Name (or rename) a person: confirmed from now on, and its faces are the user's."""
    conn.execute(
        "UPDATE people SET name = ?, confirmed = 1, source = 'user', updated_at = ? WHERE id = ?",
        (name, time.time(), person_id),
    )
    conn.execute(
        "UPDATE faces SET assigned_by = 'user' WHERE person_id = ? AND assigned_by NOT IN ('user', 'file')",
        (person_id,),
    )


def merge(conn: sqlite3.Connection, keep: int, other: int) -> int:
    """Move every face of `other` into `keep` (the user's word) and drop `other`; returns the faces moved."""
    moved = conn.execute("UPDATE faces SET person_id = ?, assigned_by = 'user' WHERE person_id = ?", (keep, other))
    conn.execute("UPDATE faces SET assigned_by = 'user' WHERE person_id = ?", (keep,))
    kept = get(conn, keep)
    gone = get(conn, other)
    conn.execute("DELETE FROM people WHERE id = ?", (other,))
    if kept is not None and not kept["name"] and gone is not None and gone["name"]:
        conn.execute("UPDATE people SET name = ? WHERE id = ?", (gone["name"], keep))
    conn.execute("UPDATE people SET confirmed = 1, updated_at = ? WHERE id = ?", (time.time(), keep))
    return moved.rowcount


def split(conn: sqlite3.Connection, face_ids: list[int], name: str | None = None) -> int:
    """The faces into a new person of their own (confirmed); returns its id."""
    person_id = create(conn, name, "user", confirmed=True)
    for face_id in face_ids:
        faces_store.assign(conn, face_id, person_id, "user")
    return person_id


def remove_face(conn: sqlite3.Connection, face_id: int) -> None:
    """Not this person (or not a face): the face leaves its person and is never assigned by the engine again."""
    faces_store.assign(conn, face_id, None, "user", removed=True)


def forget_empty(conn: sqlite3.Connection) -> int:
    """Unnamed people the engine formed that have no face left."""
    return conn.execute(
        "DELETE FROM people WHERE name IS NULL AND confirmed = 0"
        " AND NOT EXISTS (SELECT 1 FROM faces WHERE faces.person_id = people.id)"
    ).rowcount
