"""The /v1 control API on the ASGI app: today's route table (method, path) -> handler, behind a thin adapter.

Same contract as the old http.server: Origin -> 403, foreign Host -> 403, bearer token -> 401, JSON in and out.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from daemon.control.protocol import API, LOOPBACK_HOSTS, Handler

__all__ = ["LOOPBACK_HOSTS", "ControlApi", "Handler", "json_reply"]
log = logging.getLogger("image_engine.control")
MAX_BODY = 1_000_000


def json_reply(status: int, payload: Any) -> Response:
    return Response(
        json.dumps(payload, default=str).encode(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def host_name(header: str) -> str:
    """'127.0.0.1:8080' -> '127.0.0.1'; '[::1]:80' -> '[::1]'."""
    if "]" in header:
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0]


class ControlApi:
    """Answers every request under /v1 from the route table; handlers run in a worker thread."""

    def __init__(self, token: str, routes: dict[tuple[str, str], Handler], after_request: Callable[[], None]):
        self.token = token
        self.routes = routes
        self.after_request = after_request

    async def __call__(self, request: Request) -> Response:
        if request.method == "OPTIONS":  # CORS preflight from a browser: refuse
            return json_reply(403, {"error": "cross-origin requests are refused"})
        if request.headers.get("origin") is not None:
            return json_reply(403, {"error": "requests from a browser origin are refused"})
        host = host_name(request.headers.get("host") or "")
        if host not in LOOPBACK_HOSTS:
            return json_reply(403, {"error": f"unexpected Host header {host!r}"})
        supplied = request.headers.get("authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self.token}".encode()):
            return json_reply(401, {"error": "missing or wrong token (see the token file in the data folder)"})
        path = request.url.path
        if not path.startswith(API + "/"):
            return json_reply(404, {"error": f"unknown path {path}"})
        route = path[len(API) :]
        handler = self.routes.get((request.method, route))
        if handler is None:
            known = any(known_path == route for _, known_path in self.routes)
            return json_reply(405 if known else 404, {"error": f"no {request.method} {route}"})
        query = dict(request.query_params)
        try:
            body = await self._body(request)
        except ValueError as exc:
            return json_reply(400, {"error": str(exc)})
        status, payload = await run_in_threadpool(self._call, handler, query, body)
        return json_reply(status, payload)

    def _call(self, handler: Handler, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        try:
            return handler(query, body)
        except (ValueError, KeyError) as exc:
            return 400, {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - report, never crash the server
            log.exception("control request failed", extra={"event": "control_error"})
            return 500, {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            self.after_request()  # this worker thread's store connection

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise ValueError("request body too large")
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        return data
