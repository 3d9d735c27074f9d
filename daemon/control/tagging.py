"""Control API routes of AI tagging: the configured model and its state, similar photos, stored tags.

GET /models, GET /similar?path=&limit=, GET /tags?path= (POST /search: control/search.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from daemon.control.server import Handler
from daemon.ml.devices import imported_frameworks
from daemon.store import Store, embeddings, outcomes, places, scores, tagging

if TYPE_CHECKING:
    from daemon.ml.session import ModelSession

MAX_LIMIT = 1000


def tagging_routes(
    store: Store, backend: str, session: Callable[[], ModelSession | None]
) -> dict[tuple[str, str], Handler]:
    """`backend`: [tagging] backend; `session`: the tag stage's model session, None when tagging is off."""

    def file_id(query: dict[str, str]) -> int:
        path = query.get("path")
        if not path:  # a bad request, not an unknown photo (a KeyError here would read as "not found")
            raise ValueError("path is missing: ask with ?path=PHOTO")
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
            wanted = file_id(query)
        except LookupError as exc:
            return 404, {"error": str(exc)}
        if query.get("by") == "face":  # [people]: ranked by the faces in it (daemon/people/similar.py)
            from daemon.people.similar import by_face

            return 200, by_face(store.conn, wanted, limit)
        stored = embeddings.get(store.conn, wanted)
        if stored is None:
            return 409, {
                "error": f"{query['path']} has no embedding: {not_tagged_because(store, wanted, tagging_on=session() is not None)}"
            }
        model, vector = stored
        found = tagging.nearest(store.conn, model, vector, limit, exclude_file=wanted)
        return 200, {"model": model, "results": found}

    def tags(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        try:
            wanted = file_id(query)
        except LookupError as exc:
            return 404, {"error": str(exc)}
        conn = store.conn
        found = {**tagging.tags_of(conn, wanted), **(places.taken_of(conn, wanted) or {})}
        if not found.get("model"):
            found["why_not"] = not_tagged_because(store, wanted, tagging_on=session() is not None)
        found.update(scores=scores.scores_of(conn, wanted), burst=scores.burst_of(conn, wanted))
        return 200, {"path": query["path"], **found, "place": places.place_of(conn, wanted)}

    return {
        ("GET", "/models"): models,
        ("GET", "/similar"): similar,
        ("GET", "/tags"): tags,
    }


def not_tagged_because(store: Store, file_id: int, tagging_on: bool) -> str:
    """Why a known file has no tags: its job failed (where, why), is still on its way, or tagging is off."""
    job = outcomes.latest_job(store.conn, file_id)
    if job is not None and job["state"] == "failed":
        return (
            f"its processing failed at the {job['stage']} stage: {job['error']}"
            " (`image-engine retry` tries again once the file is fixed)"
        )
    if job is not None and job["state"] in ("queued", "running", "waiting"):
        waiting = f": {job['wait_reason']}" if job["state"] == "waiting" and job["wait_reason"] else ""
        return f"not tagged yet: its job is {job['state']} at the {job['stage']} stage{waiting}"
    if not tagging_on:
        return "tagging is off ([tagging] enabled = false)"
    return "not tagged: its last job finished without a tag result (`image-engine scan` looks at it again)"


def _limit(value: Any) -> int:
    limit = int(value) if value not in (None, "") else 10
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    return limit
