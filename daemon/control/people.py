"""Control API routes of faces and people: list, show, name, merge, split, remove a face, re-cluster now.

GET /faces?path=, GET /people, GET /people/show?person=; POST /people/name {"person", "name"}, /people/merge
{"keep", "other"}, /people/split {"faces", "name"}, /people/remove-face {"face"}, /people/recluster {}.
All need only the store: without a running service the CLI answers them itself (daemon/control/offline.py).
"""

from __future__ import annotations

import os
from typing import Any

from daemon.config import Config
from daemon.control.server import Handler
from daemon.people import service
from daemon.store import Store
from daemon.store import faces as faces_store
from daemon.store import people as people_store

ROUTES = (
    ("GET", "/faces"),
    ("GET", "/people"),
    ("GET", "/people/show"),
    ("POST", "/people/name"),
    ("POST", "/people/merge"),
    ("POST", "/people/split"),
    ("POST", "/people/remove-face"),
    ("POST", "/people/recluster"),
)


def people_routes(store: Store, config: Config) -> dict[tuple[str, str], Handler]:
    rerun = "metadata" if config.metadata.enabled else None  # names given later reach the files through it

    def answer(call: Any) -> tuple[int, Any]:
        try:
            return 200, call()
        except service.PeopleError as exc:
            return 404, {"error": str(exc)}

    def faces(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        path = query.get("path") or None
        return 200, {"faces": faces_store.list_faces(store.conn, path, os.sep)}

    def people(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"people": people_store.listing(store.conn)}

    def show(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        found = people_store.find(store.conn, query.get("person", ""))
        if found is None:
            return 404, {"error": f"no person {query.get('person', '')!r}: see `image-engine people`"}
        return 200, {**found, "photos": people_store.photos(store.conn, found["id"])}

    def name(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return answer(lambda: service.name(store.conn, body.get("person"), body.get("name") or "", rerun))

    def merge(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return answer(lambda: service.merge(store.conn, body.get("keep"), body.get("other"), rerun))

    def split(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return answer(lambda: service.split(store.conn, list(body.get("faces") or []), body.get("name"), rerun))

    def remove_face(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return answer(lambda: service.remove_face(store.conn, body.get("face"), rerun))

    def recluster(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, service.recluster(store.conn, service.grouping_of(config), rerun)

    handlers = (faces, people, show, name, merge, split, remove_face, recluster)
    return dict(zip(ROUTES, handlers, strict=True))
