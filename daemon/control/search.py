"""Control API route of the one search: POST /search {"text", "limit", filters...}.

Full-text matches over everything indexed, merged with CLIP text-to-image similarity when the backend embeds text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from daemon.control.server import Handler
from daemon.ml.base import ModelMissing
from daemon.search.merge import fuse, nearest_ids
from daemon.search.query import Filters, match_expression
from daemon.store import Store, embeddings
from daemon.store import search as search_store

if TYPE_CHECKING:
    from daemon.ml.session import ModelSession

MAX_LIMIT = 1000
IMAGE_CANDIDATES = 200  # CLIP neighbours looked at before the filters


def search_routes(store: Store, tag_session: Callable[[], ModelSession | None]) -> dict[tuple[str, str], Handler]:
    """`tag_session`: the tag stage's model session (None when tagging is off), for the CLIP half."""

    def image_side(text: str) -> tuple[str | None, Any, str | None]:
        """(model, text vector, note): the CLIP half of a search, or why there is none."""
        session = tag_session()
        if session is None:
            return None, None, "tagging is off: text matches only"
        try:
            backend = session.backend()
            if not backend.supports_text:
                return None, None, f'the {backend.name} backend does not embed text (backend = "clip" adds it)'
            vectors = session.embed_text([text])
        except ModelMissing as exc:
            return None, None, f"the CLIP model is not available: {exc}"
        if vectors is None:
            return None, None, "the backend cannot embed text"
        return backend.model_id, vectors[0], None

    def search(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        text = str(body.get("text") or "").strip()
        filters = Filters.from_json(body)
        if not text and not filters.any():
            raise ValueError("search needs some text or a filter")
        limit = _limit(body.get("limit"))
        conn = store.conn
        expression = match_expression(text) if text else None
        hits = search_store.full_text(conn, expression, filters, limit, os.sep) if expression or not text else []
        model, vector, note = image_side(text) if text else (None, None, None)
        if vector is not None:
            ids, matrix = embeddings.all_for_model(conn, model)
            image_hits = nearest_ids(ids, matrix, vector, IMAGE_CANDIDATES)
            known = search_store.passing(conn, [file_id for file_id, _ in image_hits], filters, os.sep)
            hits = fuse(hits, image_hits, known, limit)
        results = [{key: hit[key] for key in ("path", "taken", "score", "why")} for hit in hits]
        return 200, {"text": text, "match": expression, "clip": model, "note": note, "results": results}

    return {("POST", "/search"): search}


def _limit(value: Any) -> int:
    limit = int(value) if value not in (None, "") else 20
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    return limit
