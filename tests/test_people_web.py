"""The review app's People page on the engine's real ASGI app: people listed with their face cut from a real photo,
named from the page (the name is stored and reaches the photo's metadata job), a bad merge said in words.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time

from PIL import Image

from daemon.people import service
from daemon.pipeline.faces import record_faces
from daemon.runtime.app import App
from daemon.store import people as people_store
from daemon.store.connection import transaction
from tests.support import corpus
from tests.test_people_store import ANNA, SETTINGS, near
from tests.test_web_security import logged_in


def add_photo(app: App, file_id: int, name: str, box: list[float]) -> None:
    """A corpus photo in the drop folder as the engine would have recorded it: hashed, with one face at `box`."""
    photo = app.config.watch[0].path / name
    photo.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus() / "faces" / name, photo)
    with Image.open(photo) as image:
        size = list(image.size)
    now, conn = time.time(), app.store.conn
    with transaction(conn):
        conn.execute(
            "INSERT INTO files (id, path, root, size, mtime_ns, inode, sha256, first_seen, last_seen)"
            " VALUES (?, ?, ?, 1, 1, ?, ?, ?, ?)",
            (file_id, str(photo), str(photo.parent), file_id, hashlib.sha256(photo.read_bytes()).hexdigest(), now, now),
        )
        result = {"model": "test", "size": size, "faces": [{"box": box, "score": 0.9, "name": None}]}
        conn.execute(
            "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, 'faces', 0, ?, 0, ?)",
            (file_id, json.dumps(result), now),
        )
        record_faces(conn, file_id, {**result, "_embeddings": near(ANNA)[None, :]}, SETTINGS)


def test_people_are_listed_with_their_face_and_named_from_the_page(engine_app: App) -> None:
    add_photo(engine_app, 1, "obama.jpg", [382.0, 78.0, 256.0, 360.0])
    add_photo(engine_app, 2, "obama3.jpg", [645.0, 257.0, 269.0, 357.0])
    store = engine_app.store
    service.recluster(store.conn, SETTINGS, rerun=None)
    (person,) = people_store.listing(store.conn)

    client, csrf = logged_in(engine_app)
    page = client.get("/people")
    assert page.status_code == 200
    assert "unnamed" in page.text and f'src="/people/face/{person["sample_face"]}"' in page.text
    face = client.get(f"/people/face/{person['sample_face']}")
    assert face.status_code == 200 and face.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(face.content)).size == (96, 96)
    assert client.get("/people/face/999").status_code == 404

    origin = f"http://127.0.0.1:{engine_app.server.port}"
    headers = {"X-CSRF-Token": csrf, "Origin": origin, "HX-Request": "true"}
    named = client.post("/people/name", data={"person": str(person["id"]), "name": "Anna"}, headers=headers)
    assert named.status_code == 200 and f"Person {person['id']} is now “Anna”" in named.text
    assert people_store.get(store.conn, person["id"])["name"] == "Anna"

    wrong = client.post("/people/merge", data={"keep": "Nobody", "other": str(person["id"])}, headers=headers)
    assert wrong.status_code == 200 and "no person &#39;Nobody&#39;" in wrong.text
    assert [p["name"] for p in people_store.listing(store.conn)] == ["Anna"]  # nothing merged
