"""What happens to people: new faces join the nearest person, re-clustering forms new groups from the unknown ones,
and the user's commands (name, merge, split, remove a face). Each change of names reaches the files again.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from daemon.config import Config
from daemon.people import grouping
from daemon.store import faces as faces_store
from daemon.store import people as people_store
from daemon.store.connection import transaction

log = logging.getLogger("image_engine.people")


@dataclass(frozen=True)
class Grouping:
    """[people] thresholds on dlib's descriptor distance (0.6 is dlib's "same person" line)."""

    match_distance: float = 0.55
    cluster_distance: float = 0.55
    min_faces: int = 2


def grouping_of(config: Config) -> Grouping:
    people = config.people
    return Grouping(people.match_distance, people.cluster_distance, people.min_faces)


def join_known(
    conn: sqlite3.Connection, face_ids: list[int], embeddings: np.ndarray, settings: Grouping
) -> dict[int, int]:
    """New faces (not yet assigned) join the nearest person when close enough; at most one face of a photo per
    person (the closest). Runs inside the completion transaction. Returns face id -> person id."""
    person_ids, centroids = faces_store.person_centroids(conn)
    matches = grouping.nearest(embeddings, centroids, settings.match_distance)
    claimed: dict[int, tuple[float, int]] = {}
    for face_id, vector, match in zip(face_ids, embeddings, matches, strict=True):
        if match is None:
            continue
        distance = float(np.linalg.norm(vector - centroids[match]))
        person = person_ids[match]
        if person not in claimed or distance < claimed[person][0]:
            claimed[person] = (distance, face_id)
    joined = {face_id: person for person, (_, face_id) in claimed.items()}
    for face_id, person in joined.items():
        faces_store.assign(conn, face_id, person, "auto")
    return joined


def recluster(conn: sqlite3.Connection, settings: Grouping, rerun: str | None) -> dict[str, Any]:
    """Groups among the unknown faces: each joins a known person it is close to, or becomes a new (unnamed) one.
    Faces in people already, and faces the user removed, are never touched."""
    started = time.perf_counter()
    face_ids, files, embeddings = faces_store.unknown_faces(conn)
    clustered = grouping.clusters(embeddings, settings.cluster_distance, settings.min_faces)
    formed, joined, touched, grouped = 0, 0, set(), 0
    with transaction(conn):
        person_ids, centroids = faces_store.person_centroids(conn)
        for cluster in clustered:
            centre = embeddings[cluster].mean(axis=0, keepdims=True)
            match = grouping.nearest(centre, centroids, settings.match_distance)[0]
            if match is not None:
                person = person_ids[match]
                group = grouping.one_per_photo(cluster, files, embeddings, faces_store.files_with_person(conn, person))
                if not group:
                    continue
                joined += 1
                if people_store.get(conn, person)["name"]:  # type: ignore[index]
                    touched |= {files[i] for i in group}
            else:
                group = grouping.one_per_photo(cluster, files, embeddings, set())
                if len(group) < settings.min_faces:  # the faces of one or two crowded photos: no person yet
                    continue
                person = people_store.create(conn)
                formed += 1
            grouped += len(group)
            for index in group:
                faces_store.assign_if_unknown(conn, face_ids[index], person, "cluster")
        forgotten = people_store.forget_empty(conn)
        for file_id in touched:
            faces_store.publish(conn, file_id, rerun)
    report = {
        "unknown_before": len(face_ids),
        "grouped": grouped,
        "new_people": formed,
        "joined_known": joined,
        "forgotten": forgotten,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    log.info("people re-clustered", extra={"event": "people_reclustered", "detail": report})
    return report


class PeopleError(ValueError):
    """A request that names no such person or face (the control API answers 404/400 with the message)."""


def _person(conn: sqlite3.Connection, key: Any) -> dict[str, Any]:
    found = people_store.find(conn, str(key))
    if found is None:
        raise PeopleError(f"no person {key!r}: see `image-engine people` for ids and names")
    return found


def _publish(conn: sqlite3.Connection, file_ids: set[int], rerun: str | None) -> int:
    return sum(faces_store.publish(conn, file_id, rerun) == "requeued" for file_id in sorted(file_ids))


def name(conn: sqlite3.Connection, key: Any, new_name: str, rerun: str | None) -> dict[str, Any]:
    new_name = " ".join(str(new_name).split())
    if not new_name or "|" in new_name:
        raise PeopleError("a name is needed, without '|' (it separates keyword levels), e.g. Anna")
    with transaction(conn):
        person = _person(conn, key)
        other = people_store.by_name(conn, new_name)
        if other is not None and other != person["id"]:  # naming a group after someone known: the same person
            people_store.merge(conn, other, person["id"])
            person = _person(conn, other)
        people_store.rename(conn, person["id"], new_name)
        requeued = _publish(conn, set(people_store.file_ids(conn, person["id"])), rerun)
    return {"id": person["id"], "name": new_name, "requeued": requeued}


def merge(conn: sqlite3.Connection, keep_key: Any, other_key: Any, rerun: str | None) -> dict[str, Any]:
    with transaction(conn):
        keep, other = _person(conn, keep_key), _person(conn, other_key)
        if keep["id"] == other["id"]:
            raise PeopleError("merge needs two different people")
        files = set(people_store.file_ids(conn, other["id"])) | set(people_store.file_ids(conn, keep["id"]))
        moved = people_store.merge(conn, keep["id"], other["id"])
        requeued = _publish(conn, files, rerun)
    return {"id": keep["id"], "merged": other["id"], "faces_moved": moved, "requeued": requeued}


def _face(conn: sqlite3.Connection, face_id: Any) -> dict[str, Any]:
    found = faces_store.face(conn, int(face_id)) if str(face_id).strip().isdigit() else None
    if found is None:
        raise PeopleError(f"no face {face_id!r}: see `image-engine faces PATH` for face ids")
    return found


def split(conn: sqlite3.Connection, face_ids: list[Any], new_name: str | None, rerun: str | None) -> dict[str, Any]:
    """The faces leave their person(s) for a new one (named, when a name is given)."""
    with transaction(conn):
        found = [_face(conn, face_id) for face_id in face_ids]
        if not found:
            raise PeopleError("split needs the ids of the faces to take out")
        clean = " ".join(str(new_name or "").split()) or None
        if clean and people_store.by_name(conn, clean) is not None:
            person = int(people_store.by_name(conn, clean))  # type: ignore[arg-type]
            for entry in found:
                faces_store.assign(conn, entry["id"], person, "user")
        else:
            person = people_store.split(conn, [entry["id"] for entry in found], clean)
        people_store.forget_empty(conn)
        requeued = _publish(conn, {entry["file_id"] for entry in found}, rerun)
    return {"id": person, "faces": [entry["id"] for entry in found], "requeued": requeued}


def remove_face(conn: sqlite3.Connection, face_id: Any, rerun: str | None) -> dict[str, Any]:
    with transaction(conn):
        found = _face(conn, face_id)
        people_store.remove_face(conn, found["id"])
        people_store.forget_empty(conn)
        requeued = _publish(conn, {found["file_id"]}, rerun)
    return {"face": found["id"], "was": found["person_id"], "requeued": requeued}
