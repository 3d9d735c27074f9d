"""The review app: login by one-time link, the pages (daemon/web/pages.py) behind the Guard, static files.

Built by the control server once its port is known; adds POST /v1/ui/login (bearer) for `image-engine ui`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles

from daemon.config import Config
from daemon.store import Store
from daemon.web.api import Handler
from daemon.web.kinds import Page
from daemon.web.security import Guard, Sessions, session_cookie

log = logging.getLogger("image_engine.web")
MAX_FORM = 64 * 1024


class ReviewApp:
    def __init__(
        self,
        port: int,
        store: Store,
        config: Config,
        routes: dict[tuple[str, str], Handler],
        wake: Callable[[], None],
    ):
        from daemon.pipeline.thumbnails import Thumbnails
        from daemon.web.backfill import Backfill
        from daemon.web.duplicates import Duplicates
        from daemon.web.keywords import Keywords
        from daemon.web.pages import Pages
        from daemon.web.people import People
        from daemon.web.search import Search
        from daemon.web.teach import Teach

        self.port = port
        self.store = store
        self.sessions = Sessions()
        folder = resources.files("daemon.web")
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder / "templates")), autoescape=True)
        self.templates.filters["when"] = _when
        thumbs = Thumbnails(config.data_dir / "thumbs", config.engine.max_image_pixels)
        self.backfill = Backfill(store, thumbs)
        self.pages = Pages(self, store, config, routes, wake, thumbs)
        self.api_routes: dict[tuple[str, str], Handler] = {("POST", "/ui/login"): self.login_link}
        inner = Starlette(
            routes=[
                Route("/login", self.login),
                Mount("/static", app=StaticFiles(directory=str(folder / "static")), name="static"),
                *self.pages.routes(self.page),
                *Duplicates(self, store, routes).routes(self.page),
                *Keywords(self, store, wake).routes(self.page),
                *People(self, store, wake, "metadata" if config.metadata.enabled else None, self.pages).routes(
                    self.page
                ),
                *Search(self, store, routes).routes(self.page),
                *Teach(self, store, routes).routes(self.page),
            ]
        )

        def known(scope: Any) -> bool:
            return any(route.matches(scope)[0] != Match.NONE for route in inner.routes)

        guard = Guard(inner, self.sessions, port, self.refused_page, known)
        self.routes: list[BaseRoute] = [Mount("", app=guard)]

    def start(self) -> None:
        self.backfill.start()

    def stop(self) -> None:
        self.backfill.stop()

    def login_link(self, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        token = self.sessions.issue_login()
        return 200, {"url": f"http://127.0.0.1:{self.port}/login?token={token}", "expires_in": 120}

    async def login(self, request: Request) -> Response:
        session = self.sessions.redeem(request.query_params.get("token", ""))
        if session is None:
            body = self.refused_page("This login link was used already or has expired (links last two minutes).")
            return HTMLResponse(body, status_code=401, headers={"Cache-Control": "no-store"})
        response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
        response.headers["Set-Cookie"] = session_cookie(session)
        log.info("review app login", extra={"event": "ui_login"})
        return response

    def refused_page(self, reason: str) -> bytes:
        return self.templates.get_template("refused.html").render(reason=reason).encode()

    def render(self, request: Request, name: str, code: int = 200, **values: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(csrf=request.state.csrf, path=request.url.path, **values)
        return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-store"})

    def page(self, handler: Page) -> Callable[[Request], Any]:
        """An endpoint that reads the form (if any) here, then runs `handler` in a worker thread with its own
        store connection, closed afterwards."""

        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                raw = await request.body()
                if len(raw) > MAX_FORM:
                    return Response("form too large", status_code=413)
                form = {key: values[-1] for key, values in parse_qs(raw.decode("utf-8", "replace")).items()}

            def call() -> Response:
                try:
                    return handler(request, form)
                finally:
                    self.store.release_thread()

            return await run_in_threadpool(call)

        return endpoint


def _when(timestamp: float | None) -> str:
    import time

    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
