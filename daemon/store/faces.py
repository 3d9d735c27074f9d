"""Faces per photo: box, score, embedding, model, and which person each belongs to (and whose word put it there).

Recording a photo's faces again keeps the user's decisions on faces found at the same place.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import numpy as np

FINAL = ("user", "file")  # assignments the engine never changes
SAME_FACE_OVERLAP = 0.5
STAGE = "people"  # pseudo-stage result: the file's named faces, read by the metadata stage


def _blob(vector: Any) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype="<f4").ravel().tobytes()


def _vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype="<f4")


def record_faces(
    conn: sqlite3.Connection, file_id: int, faces: list[dict[str, Any]], now: float
) -> list[tuple[int, bool]]:
    """Replace the file's faces (call inside the completion transaction); returns (new id, settled) in order, settled
    when the face already belongs to someone or was removed by the user (the engine must not assign it).

    A face found where an old one was (boxes overlapping) keeps the old one's final assignment or removal."""
    old = [
        dict(row)
        for row in conn.execute(
            "SELECT x, y, w, h, person_id, assigned_by, removed FROM faces WHERE file_id = ?"
            " AND (assigned_by IN ('user', 'file') OR removed = 1)",
            (file_id,),
        )
    ]
    conn.execute("DELETE FROM faces WHERE file_id = ?", (file_id,))
    ids = []
    for face in faces:
        x, y, w, h = (float(v) for v in face["box"])
        person, by, removed = face.get("person_id"), face.get("assigned_by"), 0
        kept = next(
            (o for o in old if overlap((x, y, w, h), (o["x"], o["y"], o["w"], o["h"])) >= SAME_FACE_OVERLAP), None
        )
        if kept is not None:
            person, by, removed = kept["person_id"], kept["assigned_by"], kept["removed"]
        cursor = conn.execute(
            "INSERT INTO faces (file_id, x, y, w, h, score, model, embedding, person_id, assigned_by, removed, source,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                file_id, x, y, w, h, face.get("score"), face["model"], _blob(face.get("embedding")),
                person, by, removed, face.get("source", "detected"), now,
            ),
        )  # fmt: skip
        ids.append((int(cursor.lastrowid or 0), person is not None or bool(removed)))
    return ids


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    width = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = width * height
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def assign(conn: sqlite3.Connection, face_id: int, person_id: int | None, by: str, removed: bool = False) -> None:
    conn.execute(
        "UPDATE faces SET person_id = ?, assigned_by = ?, removed = ? WHERE id = ?",
        (person_id, by, int(removed), face_id),
    )


def assign_if_unknown(conn: sqlite3.Connection, face_id: int, person_id: int, by: str) -> bool:
    """Assign a face that is still in no person and was not removed by the user (both may have changed since it was
    read: re-clustering computes outside the transaction)."""
    return (
        conn.execute(
            "UPDATE faces SET person_id = ?, assigned_by = ? WHERE id = ? AND person_id IS NULL AND removed = 0",
            (person_id, by, face_id),
        ).rowcount
        == 1
    )


def face_box(conn: sqlite3.Connection, face_id: int) -> tuple[int, list[float], list[int]] | None:
    """(file id, box, the oriented size the box is in) of a face; None when there is no such face."""
    row = conn.execute("SELECT file_id, x, y, w, h FROM faces WHERE id = ?", (face_id,)).fetchone()
    return None if row is None else (row[0], [row[1], row[2], row[3], row[4]], oriented_size(conn, row[0]))


def face(conn: sqlite3.Connection, face_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT faces.id, faces.file_id, faces.person_id, faces.assigned_by, faces.removed, files.path"
        " FROM faces JOIN files ON files.id = faces.file_id WHERE faces.id = ?",
        (face_id,),
    ).fetchone()
    return None if row is None else dict(row)


def person_centroids(conn: sqlite3.Connection) -> tuple[list[int], np.ndarray]:
    """(person ids, their mean face embeddings as rows), from faces still in them."""
    sums: dict[int, list[np.ndarray]] = {}
    for person_id, blob in conn.execute(
        "SELECT person_id, embedding FROM faces WHERE person_id IS NOT NULL AND embedding IS NOT NULL"
    ):
        sums.setdefault(person_id, []).append(_vector(blob))
    ids = sorted(sums)
    if not ids:
        return [], np.zeros((0, 128), dtype=np.float32)
    return ids, np.stack([np.mean(sums[i], axis=0) for i in ids]).astype(np.float32)


def unknown_faces(conn: sqlite3.Connection) -> tuple[list[int], list[int], np.ndarray]:
    """(face ids, their photos' file ids, embeddings as rows) of the faces in no person that the user did not take
    out of one: what re-clustering groups."""
    rows = conn.execute(
        "SELECT faces.id, faces.file_id, faces.embedding FROM faces JOIN files ON files.id = faces.file_id"
        " WHERE person_id IS NULL AND removed = 0 AND embedding IS NOT NULL AND files.present = 1 ORDER BY faces.id"
    ).fetchall()
    if not rows:
        return [], [], np.zeros((0, 128), dtype=np.float32)
    return (
        [row[0] for row in rows],
        [row[1] for row in rows],
        np.stack([_vector(row[2]) for row in rows]).astype(np.float32),
    )


def files_with_person(conn: sqlite3.Connection, person_id: int) -> set[int]:
    """The photos that already show this person."""
    return {row[0] for row in conn.execute("SELECT DISTINCT file_id FROM faces WHERE person_id = ?", (person_id,))}


def all_embeddings(conn: sqlite3.Connection) -> dict[int, np.ndarray]:
    return {
        row[0]: _vector(row[1])
        for row in conn.execute("SELECT id, embedding FROM faces WHERE embedding IS NOT NULL ORDER BY id")
    }


def list_faces(conn: sqlite3.Connection, path: str | None = None, sep: str = "/") -> list[dict[str, Any]]:
    """Every face (of one file, or of the files under a folder), with its person's id and name."""
    query = (
        "SELECT faces.id, files.path, faces.x, faces.y, faces.w, faces.h, faces.score, faces.model, faces.person_id,"
        " people.name, faces.assigned_by, faces.removed, faces.source FROM faces JOIN files ON files.id = faces.file_id"
        " LEFT JOIN people ON people.id = faces.person_id WHERE files.present = 1"
    )
    params: list[Any] = []
    if path:
        query += " AND (files.path = ? OR (files.path >= ? AND files.path < ?))"
        folder = path.rstrip(sep) + sep
        params += [path, folder, folder[:-1] + chr(ord(sep) + 1)]
    rows = conn.execute(query + " ORDER BY files.path, faces.x", params).fetchall()
    return [
        {
            "id": row[0],
            "path": row[1],
            "box": [round(row[2]), round(row[3]), round(row[4]), round(row[5])],
            "score": row[6],
            "model": row[7],
            "person_id": row[8],
            "person": row[9],
            "assigned_by": row[10],
            "removed": bool(row[11]),
            "source": row[12],
        }
        for row in rows
    ]


def named_faces_of_file(conn: sqlite3.Connection, file_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT faces.x, faces.y, faces.w, faces.h, people.name FROM faces JOIN people ON people.id = faces.person_id"
        " WHERE faces.file_id = ? AND people.name IS NOT NULL AND faces.removed = 0 ORDER BY faces.x",
        (file_id,),
    ).fetchall()
    return [{"box": [row[0], row[1], row[2], row[3]], "name": row[4]} for row in rows]


def publish(conn: sqlite3.Connection, file_id: int, rerun: str | None, now: float | None = None) -> str:
    """The file's named faces as the pseudo-stage result `people` the metadata stage writes; optionally run that
    stage again for a file that is done (names given later reach the file). Names the file had before and has no
    more (a rename, a removed face) are listed as `withdrawn`: the metadata stage takes back what it wrote of them."""
    now = time.time() if now is None else now
    named = named_faces_of_file(conn, file_id)
    before = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = ?", (file_id, STAGE)).fetchone()
    old = json.loads(before[0]) if before else {}
    current = {face["name"].casefold() for face in named}
    earlier = [face.get("name") or "" for face in old.get("faces") or []] + list(old.get("withdrawn") or [])
    withdrawn = list(dict.fromkeys(name for name in earlier if name and name.casefold() not in current))
    size = oriented_size(conn, file_id)
    # The regions the engine wrote for names that left (exactly as written: only those can be taken back).
    now_written = {(face["name"].casefold(), *(round(v, 1) for v in face["box"])) for face in named}
    was = [{**face, "size": old.get("size")} for face in old.get("faces") or []] + list(
        old.get("withdrawn_regions") or []
    )
    gone_regions = [
        face
        for face in was
        if (str(face.get("name")).casefold(), *(round(v, 1) for v in face["box"])) not in now_written
    ]
    data = {"size": size, "faces": named, "withdrawn": withdrawn, "withdrawn_regions": gone_regions[-50:]}
    conn.execute(
        "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, ?, 0, ?, 0, ?)"
        " ON CONFLICT (file_id, stage) DO UPDATE SET data = excluded.data, recorded_at = excluded.recorded_at",
        (file_id, STAGE, json.dumps(data), now),
    )
    if not rerun:
        return "recorded"
    job = conn.execute(
        "SELECT id, state FROM jobs WHERE file_id = ? AND state != 'superseded' ORDER BY id DESC LIMIT 1", (file_id,)
    ).fetchone()
    if job is None or job[1] != "done":
        return "recorded"  # still in flight: its metadata stage reads the names when it gets there
    conn.execute(
        "UPDATE jobs SET state = 'queued', stage = ?, attempts = 0, claims = 0, not_before = 0, error = NULL,"
        " wait_reason = NULL, lease_owner = NULL, lease_until = NULL, finished_at = NULL, updated_at = ? WHERE id = ?",
        (rerun, now, job[0]),
    )
    return "requeued"


def oriented_size(conn: sqlite3.Connection, file_id: int) -> list[int]:
    """The oriented full image's width and height, from the `faces` result (what face boxes are in)."""
    data = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = 'faces'", (file_id,)).fetchone()
    return list(json.loads(data[0]).get("size") or [0, 0]) if data else [0, 0]


def face_vectors(conn: sqlite3.Connection) -> tuple[list[int], list[str], np.ndarray]:
    """(file id, path) of every described face of a present file, and the descriptors as rows."""
    rows = conn.execute(
        "SELECT faces.file_id, files.path, faces.embedding FROM faces JOIN files ON files.id = faces.file_id"
        " WHERE faces.embedding IS NOT NULL AND files.present = 1 ORDER BY faces.id"
    ).fetchall()
    if not rows:
        return [], [], np.zeros((0, 128), dtype=np.float32)
    return [r[0] for r in rows], [r[1] for r in rows], np.stack([_vector(r[2]) for r in rows]).astype(np.float32)
