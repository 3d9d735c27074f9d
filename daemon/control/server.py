"""The loopback HTTP server of the engine: uvicorn in a thread, serving the one ASGI app of daemon/web.

/v1 (the control API) needs `Authorization: Bearer <token>`; browser requests (an Origin header) and foreign Host
names are refused there. The review app, when given, answers every other path (cookie login, see daemon/web).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from daemon.control.protocol import LOOPBACK_HOSTS, Handler

__all__ = ["LOOPBACK_HOSTS", "ControlServer", "Handler", "ReviewFactory"]
log = logging.getLogger("image_engine.control")
# Builds the review app once the port is known: (port, the /v1 route table) -> an object with .api_routes (more /v1
# routes, e.g. the one-time login link) and .routes (the pages, mounted after /v1).
ReviewFactory = Callable[[int, dict[tuple[str, str], Handler]], Any]


class ControlServer:
    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        routes: dict[tuple[str, str], Handler],
        after_request: Callable[[], None] = lambda: None,
        review: ReviewFactory | None = None,
    ):
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"control API binds loopback only, not {host!r}")
        import uvicorn

        from daemon.web.asgi import build_asgi

        bare = host.strip("[]")
        self.socket = socket.socket(socket.AF_INET6 if ":" in bare else socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((bare, port))
        self.socket.listen(128)
        self.host = host
        self.port = self.socket.getsockname()[1]
        self.token = token
        self.review = review(self.port, routes) if review else None
        all_routes = {**routes, **(self.review.api_routes if self.review else {})}
        self.asgi = build_asgi(token, all_routes, after_request, self.review)
        config = uvicorn.Config(
            self.asgi,
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self.socket]}, name="control", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.review is not None:
            self.review.start()  # its background work (thumbnails of photos done before)

    def stop(self) -> None:
        if self.review is not None:
            self.review.stop()
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.socket.close()
