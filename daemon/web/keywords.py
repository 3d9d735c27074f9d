"""The review app's Keywords page: the vocabulary in use with counts; rename, merge into another, add a synonym,
exclude.

Each change is the user's word on every photo that carries the keyword (daemon/store/corrections.py) and a rule for
every later tagging (daemon/store/keyword_rules.py): the files' metadata stage runs again (progress shown), and no
later tagging brings the old keyword back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.store import Store, corrections, keyword_rules, review

if TYPE_CHECKING:
    from daemon.web.kinds import Page, Renderer


class Keywords:
    def __init__(self, app: Renderer, store: Store, wake: Callable[[], None]):
        self.app = app
        self.store = store
        self.wake = wake
        self.rewriting: list[int] = []  # the photos the last change re-queued (for the progress line)

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [
            Route("/keywords", page(self.show)),
            Route("/keywords/change", page(self.change), methods=["POST"]),
            Route("/keywords/progress", page(self.progress)),
        ]

    def show(self, request: Request, form: dict[str, str]) -> Response:
        return self.render(request, "")

    def change(self, request: Request, form: dict[str, str]) -> Response:
        """`action`: rename (or merge, when `replacement` is in use already), synonym (`replacement` means this
        keyword), exclude; without one, as before: rename with a replacement, else remove from today's photos."""
        keyword = " ".join(form.get("keyword", "").split())
        other = " ".join(form.get("replacement", "").split()) or None
        action = form.get("action") or ("rename" if other else "remove")
        if not keyword:
            return Response("name a keyword", status_code=400)
        if action in ("rename", "synonym") and (other is None or other.casefold() == keyword.casefold()):
            return self.render(request, "Name another keyword.")
        conn = self.store.conn
        existing = {word["keyword"].casefold() for word in review.keyword_counts(conn)}
        if action == "rename":
            keyword_rules.add(conn, keyword, "map", other)
            outcome = corrections.correct_everywhere(conn, keyword, other, rerun="metadata")
            merged = other is not None and other.casefold() in existing
            done = f"“{keyword}” {'merged into' if merged else 'renamed to'} “{other}”"
        elif action == "synonym":
            keyword_rules.add(conn, other or "", "map", keyword)
            outcome = corrections.correct_everywhere(conn, other or "", keyword, rerun="metadata")
            done = f"“{other}” is now a synonym of “{keyword}”"
        elif action == "exclude":
            keyword_rules.add(conn, keyword, "exclude")
            outcome = corrections.correct_everywhere(conn, keyword, None, rerun="metadata")
            done = f"“{keyword}” excluded"
        elif action == "remove":
            outcome = corrections.correct_everywhere(conn, keyword, None, rerun="metadata")
            done = f"“{keyword}” removed"
        else:
            return Response(f"unknown action {action!r}", status_code=400)
        if outcome["requeued"]:
            self.rewriting = list(outcome["file_ids"])
            self.wake()
        later = "; later tagging follows it" if action != "remove" else ""
        return self.render(
            request,
            f"{done} on {outcome['files']} photo(s){later}; {outcome['requeued']} file(s) are being rewritten.",
        )

    def progress(self, request: Request, form: dict[str, str]) -> Response:
        return self.app.render(request, "_keywords_progress.html", **self.progress_values())

    def progress_values(self) -> dict[str, Any]:
        busy = keyword_rules.in_flight(self.store.conn, self.rewriting) if self.rewriting else 0
        return {"rewriting": len(self.rewriting), "busy": busy}

    def render(self, request: Request, message: str) -> Response:
        conn = self.store.conn
        words = review.keyword_counts(conn)
        fragment = request.headers.get("hx-request") == "true"
        return self.app.render(
            request,
            "_keywords_list.html" if fragment else "keywords.html",
            words=words,
            rules=keyword_rules.listing(conn),
            message=message,
            **self.progress_values(),
        )
