"""The review app's Keywords page: the vocabulary in use with counts; rename, merge or remove a keyword everywhere.

Each change is the user's word on every photo that carries the keyword (daemon/store/corrections.py): the files'
metadata stage runs again, and later tagging never brings the old keyword back on those photos.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.store import Store, corrections, review

if TYPE_CHECKING:
    from daemon.web.kinds import Page, Renderer


class Keywords:
    def __init__(self, app: Renderer, store: Store, wake: Callable[[], None]):
        self.app = app
        self.store = store
        self.wake = wake

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [Route("/keywords", page(self.show)), Route("/keywords/change", page(self.change), methods=["POST"])]

    def show(self, request: Request, form: dict[str, str]) -> Response:
        return self.render(request, "")

    def change(self, request: Request, form: dict[str, str]) -> Response:
        keyword = form.get("keyword", "").strip()
        replacement = " ".join(form.get("replacement", "").split()) or None
        if not keyword:
            return Response("name a keyword", status_code=400)
        if replacement and replacement.casefold() == keyword.casefold():
            return self.render(request, "The new name is the same keyword.")
        outcome = corrections.correct_everywhere(self.store.conn, keyword, replacement, rerun="metadata")
        if outcome["requeued"]:
            self.wake()
        done = f"renamed to “{replacement}”" if replacement else "removed"
        return self.render(
            request,
            f"“{keyword}” {done} on {outcome['files']} photo(s); {outcome['requeued']} file(s) are being rewritten.",
        )

    def render(self, request: Request, message: str) -> Response:
        words = review.keyword_counts(self.store.conn)
        fragment = request.headers.get("hx-request") == "true"
        return self.app.render(
            request, "_keywords_list.html" if fragment else "keywords.html", words=words, message=message
        )
