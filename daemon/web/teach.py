"""The review app's Teach page: pick photos from the library or a search, name a keyword, and teach it.

The form goes through the control API's own `POST /teach` handler (as `image-engine teach`), so both answer alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.store import Store, learned, review
from daemon.web.api import Handler

if TYPE_CHECKING:
    from daemon.web.kinds import Page, Renderer

LIMIT = 120
CHOSEN = "photo-"  # each ticked photo is its own form field (photo-ID=1): the page reader keeps one value per name


class Teach:
    def __init__(self, app: Renderer, store: Store, api: dict[tuple[str, str], Handler]):
        self.app = app
        self.store = store
        self.api = api

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [Route("/teach", page(self.show)), Route("/teach", page(self.teach), methods=["POST"])]

    def show(self, request: Request, form: dict[str, str]) -> Response:
        text = (request.query_params.get("q") or "").strip()
        conn = self.store.conn
        photos = review.search(conn, text, LIMIT) if text else review.library_page(conn, limit=LIMIT)[0]
        return self.app.render(
            request,
            "teach.html",
            text=text,
            photos=photos,
            keyword=request.query_params.get("keyword") or "",
            taught=self.taught(),
        )

    def teach(self, request: Request, form: dict[str, str]) -> Response:
        keyword = " ".join(form.get("keyword", "").split())
        chosen = [
            int(name[len(CHOSEN) :]) for name in form if name.startswith(CHOSEN) and name[len(CHOSEN) :].isdigit()
        ]
        negative = form.get("negative") == "1"
        if not keyword or not chosen:
            message = (
                "Name the keyword and tick the photos that show it."
                if not negative
                else ("Name the keyword and tick the photos that do not show it.")
            )
            return self.result(request, message, 400)
        if ("POST", "/teach") not in self.api:
            return self.result(request, "Teaching is not part of this engine.", 404)
        paths = learned.paths_of(self.store.conn, chosen)
        code, answer = self.api[("POST", "/teach")]({}, {"keyword": keyword, "paths": paths, "negative": negative})
        if code != 200:
            return self.result(request, answer.get("error", "not taught"), code)
        said = "do not show" if negative else "show"
        message = f"{len(paths)} photo(s) that {said} {keyword} added. {answer.get('message') or ''}".strip()
        return self.result(request, message, 200)

    def result(self, request: Request, message: str, code: int) -> Response:
        return self.app.render(request, "_teach_result.html", code=code, message=message, taught=self.taught())

    def taught(self) -> list[dict[str, Any]]:
        if ("GET", "/taught") not in self.api:
            return []
        return self.api[("GET", "/taught")]({}, {})[1]["keywords"]
