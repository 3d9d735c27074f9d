"""The review app's People page on the engine's real ASGI app: people listed with a sample photo, named from the
page (the name is stored and reaches the photo's metadata job), a bad merge said in words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.people import service
from daemon.runtime.app import App
from daemon.store import people as people_store
from tests.support import write_config
from tests.test_people_store import ANNA, SETTINGS, add_file, near, record
from tests.test_web_security import logged_in


@pytest.fixture
def engine_app(tmp_path: Path) -> Iterator[App]:
    app = App(load_config(write_config(tmp_path)))
    try:
        yield app
    finally:
        app.server.socket.close()
        app.pipeline.close()
        app.store.close()


def test_people_are_listed_and_named_from_the_page(engine_app: App) -> None:
    store = engine_app.store
    for file_id in (1, 2):
        add_file(store, file_id)
        record(store, file_id, [near(ANNA)])
    service.recluster(store.conn, SETTINGS, rerun=None)
    (person,) = people_store.listing(store.conn)

    client, csrf = logged_in(engine_app)
    page = client.get("/people")
    assert page.status_code == 200
    assert "unnamed" in page.text and f'src="/image/thumb/{person["sample_id"]}"' in page.text
    origin = f"http://127.0.0.1:{engine_app.server.port}"
    headers = {"X-CSRF-Token": csrf, "Origin": origin, "HX-Request": "true"}
    named = client.post("/people/name", data={"person": str(person["id"]), "name": "Anna"}, headers=headers)
    assert named.status_code == 200 and f"Person {person['id']} is now “Anna”" in named.text
    assert people_store.get(store.conn, person["id"])["name"] == "Anna"

    wrong = client.post("/people/merge", data={"keep": "Nobody", "other": str(person["id"])}, headers=headers)
    assert wrong.status_code == 200 and "no person &#39;Nobody&#39;" in wrong.text
    assert [p["name"] for p in people_store.listing(store.conn)] == ["Anna"]  # nothing merged
