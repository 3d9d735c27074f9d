"""The loopback HTTP server of the control API: token check, routing, JSON in and out.

Requests need `Authorization: Bearer <token>`; browser requests (an Origin header) and foreign Host names are refused.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from daemon.control.protocol import API

log = logging.getLogger("image_engine.control")
Handler = Callable[[dict[str, str], dict[str, Any]], tuple[int, Any]]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MAX_BODY = 1_000_000


class ControlServer:
    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        routes: dict[tuple[str, str], Handler],
        after_request: Callable[[], None] = lambda: None,
    ):
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"control API binds loopback only, not {host!r}")
        self.token = token
        self.routes = routes
        self.after_request = after_request
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self.httpd = server_class((host, port), self._handler_class())
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="control", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            server_version = "image-engine"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.debug(format % args, extra={"event": "http"})

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_OPTIONS(self) -> None:  # noqa: N802 - CORS preflight from a browser: refuse
                self._reply(403, {"error": "cross-origin requests are refused"})

            def _serve(self, method: str) -> None:
                try:
                    self._serve_checked(method)
                finally:
                    server.after_request()

            def _serve_checked(self, method: str) -> None:
                if self.headers.get("Origin") is not None:
                    self._reply(403, {"error": "requests from a browser origin are refused"})
                    return
                host = (
                    (self.headers.get("Host") or "").rsplit(":", 1)[0]
                    if "]" not in (self.headers.get("Host") or "")
                    else (self.headers.get("Host") or "").split("]")[0] + "]"
                )
                if host not in LOOPBACK_HOSTS:
                    self._reply(403, {"error": f"unexpected Host header {host!r}"})
                    return
                supplied = self.headers.get("Authorization", "")
                expected = f"Bearer {server.token}"
                if not hmac.compare_digest(supplied.encode(), expected.encode()):
                    self._reply(401, {"error": "missing or wrong token (see the token file in the data folder)"})
                    return
                parts = urlsplit(self.path)
                if not parts.path.startswith(API + "/"):
                    self._reply(404, {"error": f"unknown path {parts.path}"})
                    return
                route = parts.path[len(API) :]
                handler = server.routes.get((method, route))
                if handler is None:
                    known = any(path == route for _, path in server.routes)
                    self._reply(405 if known else 404, {"error": f"no {method} {route}"})
                    return
                query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                try:
                    body = self._body()
                except ValueError as exc:
                    self._reply(400, {"error": str(exc)})
                    return
                try:
                    status, payload = handler(query, body)
                except (ValueError, KeyError) as exc:
                    status, payload = 400, {"error": str(exc)}
                except Exception as exc:  # noqa: BLE001 - report, never crash the server thread
                    log.exception("control request failed", extra={"event": "control_error"})
                    status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
                self._reply(status, payload)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    raise ValueError("request body too large")
                if not length:
                    return {}
                data = json.loads(self.rfile.read(length))
                if not isinstance(data, dict):
                    raise ValueError("request body must be a JSON object")
                return data

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

        return RequestHandler


class _IPv6Server(ThreadingHTTPServer):
    import socket

    address_family = socket.AF_INET6
