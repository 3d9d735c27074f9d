"""The review app's People page: every person with a face of theirs, their count and a sample photo; name (or
rename) a person and merge two. Each change is the user's word (daemon/people/service.py): the names reach the files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.people import service
from daemon.store import Store
from daemon.store import people as people_store

if TYPE_CHECKING:
    from daemon.web.kinds import Page, Renderer


class People:
    def __init__(self, app: Renderer, store: Store, wake: Callable[[], None], rerun: str | None):
        self.app = app
        self.store = store
        self.wake = wake
        self.rerun = rerun

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [
            Route("/people", page(self.show)),
            Route("/people/name", page(self.name), methods=["POST"]),
            Route("/people/merge", page(self.merge), methods=["POST"]),
        ]

    def show(self, request: Request, form: dict[str, str]) -> Response:
        return self.render(request, "")

    def name(self, request: Request, form: dict[str, str]) -> Response:
        try:
            done = service.name(self.store.conn, form.get("person", ""), form.get("name", ""), self.rerun)
        except service.PeopleError as exc:
            return self.render(request, str(exc))
        self.wake()
        return self.render(
            request, f"Person {done['id']} is now “{done['name']}”; {done['requeued']} file(s) are being rewritten."
        )

    def merge(self, request: Request, form: dict[str, str]) -> Response:
        try:
            done = service.merge(self.store.conn, form.get("keep", ""), form.get("other", ""), self.rerun)
        except service.PeopleError as exc:
            return self.render(request, str(exc))
        self.wake()
        return self.render(
            request, f"{done['faces_moved']} face(s) of person {done['merged']} joined person {done['id']}."
        )

    def render(self, request: Request, message: str) -> Response:
        listing = people_store.listing(self.store.conn)
        fragment = request.headers.get("hx-request") == "true"
        return self.app.render(
            request, "_people_list.html" if fragment else "people.html", people=listing, message=message
        )
