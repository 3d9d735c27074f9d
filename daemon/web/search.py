"""The review app's Search page: keywords and captions; text through the tagger when it embeds text (CLIP);
and "more like this" from a photo page (nearest stored image embeddings).

Text and similarity searches reuse the control API's handlers (`search`, `similar`), so they answer alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.store import Store, review
from daemon.web.api import Handler

if TYPE_CHECKING:
    from daemon.web.kinds import Page, Renderer

LIMIT = 60


class Search:
    def __init__(self, app: Renderer, store: Store, api: dict[tuple[str, str], Handler]):
        self.app = app
        self.store = store
        self.api = api

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [Route("/search", page(self.search)), Route("/photo/{file_id:int}/similar", page(self.similar))]

    def search(self, request: Request, form: dict[str, str]) -> Response:
        text = (request.query_params.get("q") or "").strip()
        photos: list[dict[str, Any]] = review.search(self.store.conn, text, LIMIT) if text else []
        note = ""
        if text and ("POST", "/search") in self.api:
            code, answer = self.api[("POST", "/search")]({}, {"text": text, "limit": LIMIT})
            if code == 200:  # the engine's one search (full text, and CLIP when configured) first
                found = review.photos_at(self.store.conn, [r["path"] for r in answer["results"]])
                seen = {photo["id"] for photo in found}
                photos = found + [photo for photo in photos if photo["id"] not in seen]
                note = answer.get("note") or ""
            else:
                note = answer.get("error", "")
        return self.app.render(request, "search.html", text=text, photos=photos, note=note, title="Search")

    def similar(self, request: Request, form: dict[str, str]) -> Response:
        info = review.photo(self.store.conn, request.path_params["file_id"])
        if info is None or ("GET", "/similar") not in self.api:
            return self.app.render(request, "missing.html", code=404)
        code, answer = self.api[("GET", "/similar")]({"path": info["path"], "limit": str(LIMIT)}, {})
        photos = (
            review.photos_at(self.store.conn, [r["path"] for r in answer.get("results", [])]) if code == 200 else []
        )
        name = info["path"].rsplit("/", 1)[-1]
        note = "" if code == 200 else answer.get("error", "")
        return self.app.render(request, "search.html", text="", photos=photos, note=note, title=f"More like {name}")
