"""Grouping on a real SQLite store: new faces join the nearest person, re-clustering forms people from the unknown
ones, and the user's word (a removal, a split, a name) survives re-clustering and the photo being processed again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from daemon.config import Config, PeopleConfig
from daemon.people import service
from daemon.pipeline.faces import record_faces
from daemon.schedule.jobs import Schedule
from daemon.store import Store
from daemon.store import faces as faces_store
from daemon.store import people as people_store
from daemon.store.connection import transaction

SETTINGS = service.Grouping(match_distance=0.5, cluster_distance=0.45, min_faces=2)
RNG = np.random.default_rng(7)
ANNA, BEN = RNG.normal(size=128), RNG.normal(size=128)  # two people far apart (distance ~16)


def near(centre: np.ndarray) -> np.ndarray:
    return (centre + RNG.normal(scale=0.01, size=128)).astype(np.float32)


def add_file(store: Store, file_id: int) -> None:
    now = time.time()
    with transaction(store.conn):
        store.conn.execute(
            "INSERT INTO files (id, path, root, size, mtime_ns, inode, first_seen, last_seen)"
            " VALUES (?, ?, '/p', 1, 1, ?, ?, ?)",
            (file_id, f"/p/{file_id}.jpg", file_id, now, now),
        )


def record(store: Store, file_id: int, vectors: list[np.ndarray], names: list[str | None] | None = None) -> list[int]:
    names = names or [None] * len(vectors)
    result = {
        "model": "test",
        "size": [1000, 800],
        "faces": [{"box": [100 * i, 10, 80, 80], "score": 0.9, "name": n} for i, n in enumerate(names)],
        "_embeddings": np.stack(vectors),
    }
    with transaction(store.conn):
        record_faces(store.conn, file_id, result, SETTINGS)
    return [row["id"] for row in faces_store.list_faces(store.conn) if row["path"] == f"/p/{file_id}.jpg"]


def person_of(store: Store, face_id: int) -> int | None:
    return next(row["person_id"] for row in faces_store.list_faces(store.conn) if row["id"] == face_id)


def test_grouping_follows_the_users_word(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        for file_id in range(1, 7):
            add_file(store, file_id)
        (a1,) = record(store, 1, [near(ANNA)])
        (a2,) = record(store, 2, [near(ANNA)])
        (b1,) = record(store, 3, [near(BEN)])
        assert {person_of(store, f) for f in (a1, a2, b1)} == {None}  # nobody known yet: they wait

        report = service.recluster(store.conn, SETTINGS, rerun=None)
        assert (report["new_people"], report["grouped"]) == (1, 2)  # Ben alone is no group (min_faces 2)
        anna = person_of(store, a1)
        assert anna is not None and person_of(store, a2) == anna and person_of(store, b1) is None

        (a3,) = record(store, 4, [near(ANNA)])  # a new face joins the known person on arrival
        assert person_of(store, a3) == anna
        service.name(store.conn, anna, "Anna", rerun=None)

        service.remove_face(store.conn, a2, rerun=None)  # the user: those are not Anna (two: a group, if they
        service.remove_face(store.conn, a3, rerun=None)  # were clustered again, and one close to her)
        service.recluster(store.conn, SETTINGS, rerun=None)
        assert person_of(store, a2) is None and person_of(store, a3) is None
        with transaction(store.conn):  # what re-clustering read before the removal cannot undo it when it writes
            assert not faces_store.assign_if_unknown(store.conn, a2, anna, "cluster")
        (again,) = record(store, 2, [near(ANNA)])  # the photo processed again (edited): still removed
        assert person_of(store, again) is None
        assert faces_store.list_faces(store.conn)[1]["removed"] is True

        # A name another program left in the file joins the named person, whatever the case.
        (a4,) = record(store, 5, [near(BEN)], names=["anna"])
        assert (person_of(store, a4), faces_store.face(store.conn, a4)["assigned_by"]) == (anna, "file")

        # A split is the user's: re-clustering never puts those faces back.
        split = service.split(store.conn, [a4], "Ben", rerun=None)
        (b2,) = record(store, 6, [near(BEN)])
        service.recluster(store.conn, SETTINGS, rerun=None)
        assert person_of(store, a4) == split["id"] and people_store.get(store.conn, split["id"])["name"] == "Ben"
        assert person_of(store, b2) == split["id"]  # Ben's next photo joined him on arrival
        listing = {p["name"]: p["faces"] for p in people_store.listing(store.conn)}
        assert listing == {"Anna": 1, "Ben": 2}  # a2, a3 removed, a4 split off

        # Merge: the user says two people are one; the name given is kept, the other person is gone.
        merged = service.merge(store.conn, "Ben", str(anna), rerun=None)
        assert merged["faces_moved"] == 1 and people_store.get(store.conn, anna) is None
        assert {p["name"]: p["faces"] for p in people_store.listing(store.conn)} == {"Ben": 3}
    finally:
        store.close()


def test_reclustering_is_scheduled_when_people_is_on(tmp_path: Path) -> None:
    on = Schedule(Store(tmp_path / "db.sqlite"), Config(people=PeopleConfig(enabled=True)), rescan=lambda: None)
    off = Schedule(on.store, Config(people=PeopleConfig(enabled=False)), rescan=lambda: None)
    try:
        assert on.wanted()["people_recluster"] == ("interval", {"minutes": 30.0})
        assert "people_recluster" not in off.wanted()
    finally:
        on.store.close()


def test_two_faces_in_one_photo_never_become_one_person(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        for file_id in range(1, 6):
            add_file(store, file_id)
        crowd = record(store, 1, [near(BEN), near(BEN), near(BEN)])  # three alike faces in one photo
        (other,) = record(store, 2, [near(BEN)])
        report = service.recluster(store.conn, SETTINGS, rerun=None)
        people = {person_of(store, face) for face in [*crowd, other]} - {None}
        assert report["new_people"] == 1 and len(people) == 1
        assert sum(person_of(store, face) is not None for face in crowd) == 1  # one of the three, not all
        assert person_of(store, other) in people

        ben = people.pop()
        anna_faces = record(store, 3, [near(ANNA), near(ANNA)])  # Anna twice in one photo, and once elsewhere
        (anna_alone,) = record(store, 4, [near(ANNA)])
        service.recluster(store.conn, SETTINGS, rerun=None)
        anna = person_of(store, anna_alone)
        assert anna not in (None, ben) and [person_of(store, face) for face in anna_faces].count(anna) == 1

        (late,) = record(store, 5, [near(ANNA)])  # joins Anna on arrival; a crowd clustering later cannot add to
        assert person_of(store, late) == anna  # a photo that already shows her
        for file_id in (1, 3):
            shown = [f["person_id"] for f in faces_store.list_faces(store.conn) if f["path"] == f"/p/{file_id}.jpg"]
            named = [p for p in shown if p is not None]
            assert len(named) == len(set(named)), f"photo {file_id}: one person twice: {shown}"
    finally:
        store.close()
