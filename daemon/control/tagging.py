"""Control API routes of AI tagging: the configured model and its state, similar photos, text search, stored tags.

GET /models, GET /similar?path=&limit=, POST /search {"text", "limit"}, GET /tags?path=.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from daemon.control.server import Handler
from daemon.ml.base import ModelMissing
from daemon.ml.devices import imported_frameworks
from daemon.store import Store, embeddings, tagging

if TYPE_CHECKING:
    from daemon.ml.session import ModelSession

MAX_LIMIT = 1000


def tagging_routes(
    store: Store, backend: str, session: Callable[[], ModelSession | None]
) -> dict[tuple[str, str], Handler]:
    """`backend`: [tagging] backend; `session`: the tag stage's model session, None when tagging is off."""

    def file_id(path: str) -> int:
        conn = store.conn
        for candidate in (path, os.path.abspath(path), os.path.realpath(path)):
            found = tagging.file_id_of(conn, candidate)
            if found is not None:
                return found
        raise LookupError(f"{path} is not a file the engine knows (is it inside a watched folder?)")

    def models(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        current = session()
        if current is None:
            return 200, {"enabled": False, "backend": backend, "imported": imported_frameworks()}
        return 200, {"enabled": True, **current.info()}

    def similar(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        limit = _limit(query.get("limit"))
        try:
            wanted = file_id(query["path"])
        except LookupError as exc:
            return 404, {"error": str(exc)}
        stored = embeddings.get(store.conn, wanted)
        if stored is None:
            return 409, {"error": f"{query['path']} has no embedding yet (it is tagged when its tag stage is done)"}
        model, vector = stored
        found = tagging.nearest(store.conn, model, vector, limit, exclude_file=wanted)
        return 200, {"model": model, "results": found}

    def search(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        text = str(body.get("text") or "").strip()
        if not text:
            raise ValueError("search needs some text")
        current = session()
        if current is None:
            return 409, {"error": "tagging is off ([tagging] enabled = false): nothing was embedded to search"}
        try:
            backend = current.backend()
            if not backend.supports_text:
                return 409, {
                    "error": f'text search needs a backend that embeds text: set [tagging] backend = "clip" '
                    f"(the {backend.name} backend only compares images; try `image-engine similar PATH`)"
                }
            vectors = current.embed_text([text])
        except ModelMissing as exc:
            return 409, {"error": f"the model is not available: {exc}"}
        if vectors is None:
            return 409, {"error": f"the {backend.name} backend cannot embed text"}
        found = tagging.nearest(store.conn, backend.model_id, vectors[0], _limit(body.get("limit")))
        return 200, {"model": backend.model_id, "results": found}

    def tags(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        try:
            wanted = file_id(query["path"])
        except LookupError as exc:
            return 404, {"error": str(exc)}
        return 200, {"path": query["path"], **tagging.tags_of(store.conn, wanted)}

    return {
        ("GET", "/models"): models,
        ("GET", "/similar"): similar,
        ("POST", "/search"): search,
        ("GET", "/tags"): tags,
    }


def _limit(value: Any) -> int:
    limit = int(value) if value not in (None, "") else 10
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    return limit
