"""The review app's Duplicates page: one group at a time, side by side, the fields that differ highlighted.

Decisions go through the control API's own handlers (`dupes --distinct`, `dupes --resolve`): "not duplicates"
is remembered for good, and resolving applies the configured [dedup] action through the store and its journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.web.api import Handler

if TYPE_CHECKING:
    from collections.abc import Callable

    from daemon.web.kinds import Page, Renderer

COMPARED = ("size", "width", "height", "taken")


class Duplicates:
    def __init__(self, app: Renderer, api: dict[tuple[str, str], Handler]):
        self.app = app
        self.api = api

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        if ("GET", "/dupes") not in self.api:
            return []
        return [
            Route("/duplicates", page(self.show)),
            Route("/duplicates/distinct", page(self.distinct), methods=["POST"]),
            Route("/duplicates/resolve", page(self.resolve), methods=["POST"]),
        ]

    def listing(self) -> dict[str, Any]:
        return self.api[("GET", "/dupes")]({}, {})[1]

    def show(self, request: Request, form: dict[str, str]) -> Response:
        return self.render(request, int(request.query_params.get("at") or 0), "")

    def distinct(self, request: Request, form: dict[str, str]) -> Response:
        """The whole group (`group`), or one photo (`path`: it is no duplicate of the others), for good."""
        at = int(form.get("at") or 0)
        if form.get("path"):
            self.api[("POST", "/dupes/distinct")]({}, {"paths": [form["path"]]})
            name = form["path"].replace("\\", "/").rsplit("/", 1)[-1]
            return self.render(request, at, f"{name}: not a duplicate of the others (remembered).")
        group = int(form["group"])
        self.api[("POST", "/dupes/distinct")]({}, {"groups": [group]})
        return self.render(request, at, f"Group {group}: not duplicates (remembered).")

    def resolve(self, request: Request, form: dict[str, str]) -> Response:
        outcome = self.api[("POST", "/dupes/resolve")]({}, {})[1]
        moved = sum(outcome.get("requeued", {}).values())
        message = f"The [dedup] action ({outcome['action']}) is applied: {moved} photo(s) go through it again."
        return self.render(request, 0, message)

    def render(self, request: Request, at: int, message: str) -> Response:
        listing = self.listing()
        groups = listing["groups"]
        at = max(0, min(at, len(groups) - 1))
        group = groups[at] if groups else None
        differing = set()
        if group:
            for field in COMPARED:
                if len({member[field] for member in group["members"]}) > 1:
                    differing.add(field)
        return self.app.render(
            request,
            "duplicates.html",
            group=group,
            at=at,
            count=len(groups),
            differing=differing,
            action=listing["action"],
            pending=listing["pending"],
            message=message,
        )
