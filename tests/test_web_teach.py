"""The review app's Teach page: tick photos, name a keyword, teach; through the engine's real ASGI app and learner.

Photos with stored embeddings stand in for a tagged library (ten of one kind, thirty others); the form posts through
the same handler as `POST /v1/teach`, needs the CSRF token like every form, and the learned keyword lands on the
photos of that kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from daemon.config import load_config
from daemon.runtime.app import App
from daemon.store import embeddings, learned
from daemon.store.connection import transaction
from tests.support import wait_for, write_config
from tests.test_web_security import logged_in

KEYWORD = "Kestrel"


@pytest.fixture
def engine_app(tmp_path: Path) -> Iterator[App]:
    app = App(load_config(write_config(tmp_path)))
    conn = app.store.conn
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 64)).astype(np.float32)
    vectors[:10, 0] += 8.0  # photos 1-10 show the boat
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with transaction(conn):
        for index, vector in enumerate(vectors):
            file_id = conn.execute(
                "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen, present)"
                " VALUES (?, '/', 1, 1, ?, 0, 0, 1) RETURNING id",
                (str(tmp_path / "drop" / f"boat-{index + 1}.jpg"), index),
            ).fetchone()[0]
            embeddings.put(conn, file_id, "m", vector)
            conn.execute(
                "INSERT INTO media (file_id, format, taken) VALUES (?, 'JPEG', ?)",
                (file_id, f"2024-01-01T00:{index:02d}"),
            )
    app.learner.start()
    try:
        yield app
    finally:
        app.control.stop.set()
        app.learner.join(30)
        app.server.socket.close()
        app.pipeline.close()
        app.store.close()


def post(client: TestClient, app: App, csrf: str, form: dict[str, str]):  # noqa: ANN201
    origin = f"http://127.0.0.1:{app.server.port}"
    return client.post("/teach", data=form, headers={"X-CSRF-Token": csrf, "Origin": origin, "HX-Request": "true"})


def test_ticked_photos_teach_the_keyword_and_it_is_learned_on_the_photos_of_that_kind(engine_app: App) -> None:
    client, csrf = logged_in(engine_app)
    page = client.get("/teach")
    assert page.status_code == 200 and 'name="photo-1"' in page.text and 'name="photo-40"' in page.text
    assert 'href="/teach"' in client.get("/").text  # in the menu

    form = {"keyword": KEYWORD, **{f"photo-{i}": "1" for i in range(1, 7)}}
    refused = client.post("/teach", data=form, headers={"Origin": f"http://127.0.0.1:{engine_app.server.port}"})
    assert refused.status_code == 403 and not learned.examples(engine_app.store.conn, KEYWORD)

    answer = post(client, engine_app, csrf, form)
    assert answer.status_code == 200, answer.text
    assert "6 photo(s) that show Kestrel added. Kestrel: 6 examples, estimated precision" in answer.text
    assert '<tr data-keyword="Kestrel">' in answer.text
    conn = engine_app.store.conn
    assert learned.examples(conn, KEYWORD) == {i: 1 for i in range(1, 7)}

    def tagged() -> set[int]:
        return set(learned.learned_files(conn, KEYWORD))

    wait_for(lambda: engine_app.learner.status()["state"] == "idle" and tagged(), 60, message="applied")
    assert set(range(1, 7)) <= tagged() <= set(range(1, 11))  # the examples and look-alikes, no other photo

    said_no = post(client, engine_app, csrf, {"keyword": KEYWORD, "negative": "1", "photo-2": "1"})
    assert said_no.status_code == 200 and "1 photo(s) that do not show Kestrel added" in said_no.text
    wait_for(lambda: 2 not in tagged() and engine_app.learner.status()["state"] == "idle", 60, message="retrained")
    assert learned.examples(conn, KEYWORD)[2] == 0

    nothing_ticked = post(client, engine_app, csrf, {"keyword": KEYWORD})
    assert nothing_ticked.status_code == 400 and "tick the photos that show it" in nothing_ticked.text
