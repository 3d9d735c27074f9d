"""Puts the engine's ASGI app together: /v1 (bearer token) first, then the review app's pages if there is one.

Without a review app every path goes to the control API, which answers 401/404 as it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from daemon.web.api import ControlApi, Handler

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


def build_asgi(
    token: str, routes: dict[tuple[str, str], Handler], after_request: Callable[[], None], review: Any | None
) -> Starlette:
    api = ControlApi(token, routes, after_request)
    table: list[BaseRoute] = [Route("/v1/{rest:path}", api.__call__, methods=METHODS)]
    if review is not None:
        table += review.routes
    else:
        table.append(Route("/{rest:path}", api.__call__, methods=METHODS))
    return Starlette(routes=table)
