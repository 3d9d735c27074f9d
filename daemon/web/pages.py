"""The review app's pages and htmx fragments: overview, activity, library, photo, and the images they show.

State changes reuse the control API's own handlers (pause, resume, scan, retry) so both ways behave alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from daemon.config import Config
from daemon.errors import EngineError
from daemon.store import Store, corrections, queue, review
from daemon.web.api import Handler

if TYPE_CHECKING:
    from daemon.pipeline.thumbnails import Thumbnails
    from daemon.web.kinds import Page, Renderer

log = logging.getLogger("image_engine.web")
IMMUTABLE = "private, max-age=31536000, immutable"
VOCABULARY_SECONDS = 60.0  # the completion list reads every keyword row: at most once a minute


class Pages:
    def __init__(
        self,
        app: Renderer,
        store: Store,
        config: Config,
        api: dict[tuple[str, str], Handler],
        wake: Callable[[], None],
        thumbs: Thumbnails,
    ):
        self.app = app
        self.store = store
        self.config = config
        self.api = api
        self.wake = wake
        self.thumbs = thumbs
        self.roots = [w.path.resolve() for w in config.watch] + [config.library.root.resolve()]
        self._vocabulary: tuple[float, list[str]] = (-VOCABULARY_SECONDS, [])

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [
            Route("/", page(self.overview)),
            Route("/fragments/overview", page(self.overview_fragment)),
            Route("/actions/{action:str}", page(self.action), methods=["POST"]),
            Route("/activity", page(self.activity)),
            Route("/activity/retry", page(self.retry), methods=["POST"]),
            Route("/library", page(self.library)),
            Route("/photo/{file_id:int}", page(self.photo)),
            Route("/photo/{file_id:int}/keywords", page(self.keyword), methods=["POST"]),
            Route("/photo/{file_id:int}/caption", page(self.caption), methods=["POST"]),
            Route("/photo/{file_id:int}/category", page(self.category), methods=["POST"]),
            Route("/photo/{file_id:int}/undo", page(self.undo), methods=["POST"]),
            Route("/image/{kind:str}/{file_id:int}", page(self.image)),
        ]

    # Overview ---------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return self.api[("GET", "/status")]({}, {})[1]

    def overview(self, request: Request, form: dict[str, str]) -> Response:
        return self.app.render(request, "overview.html", message="", **self.overview_values())

    def overview_fragment(self, request: Request, form: dict[str, str]) -> Response:
        return self.app.render(request, "_overview.html", message="", **self.overview_values())

    def overview_values(self) -> dict[str, Any]:
        hourly = review.done_per_hour(self.store.conn)
        return {"status": self.status(), "hourly": hourly, "hourly_peak": max(1, *hourly)}

    def action(self, request: Request, form: dict[str, str]) -> Response:
        action = request.path_params["action"]
        routes = {"pause": "/pause", "resume": "/resume", "rescan": "/scan", "retry-all": "/retry"}
        if action not in routes:
            return Response(f"unknown action {action}", status_code=404)
        code, payload = self.api[("POST", routes[action])]({}, {})
        message = {
            "pause": "Paused: watching goes on, no new work starts.",
            "resume": "Running again.",
            "rescan": f"Rescan {payload.get('scan')} started.",
            "retry-all": f"{payload.get('retried', 0)} failed job(s) queued again.",
        }[action]
        return self.app.render(request, "_overview.html", message=message, **self.overview_values())

    # Activity ---------------------------------------------------------------------------------------------
    def activity(self, request: Request, form: dict[str, str]) -> Response:
        return self.jobs_page(request, dict(request.query_params), "")

    def retry(self, request: Request, form: dict[str, str]) -> Response:
        conn = self.store.conn
        if form.get("job"):
            done = review.retry_job(conn, int(form["job"]))
            message = "Queued again." if done else "That job is not failed any more."
        else:
            message = f"{self.api[('POST', '/retry')]({}, {})[1]['retried']} failed job(s) queued again."
        self.wake()
        return self.jobs_page(request, form, message)

    def jobs_page(self, request: Request, filters: dict[str, str], message: str) -> Response:
        state = filters.get("state") or None
        if state and state not in queue.JOB_STATES:
            state = None
        found = review.jobs(
            self.store.conn,
            state,
            filters.get("stage") or None,
            filters.get("q") or None,
            folder=filters.get("folder") or None,
        )
        fragment = request.headers.get("hx-request") == "true"
        return self.app.render(
            request,
            "_jobs.html" if fragment else "activity.html",
            jobs=found,
            filters={
                "state": state or "",
                "stage": filters.get("stage") or "",
                "q": filters.get("q") or "",
                "folder": filters.get("folder") or "",
            },
            folders=[str(w.path) for w in self.config.watch] + [str(self.config.library.root)],
            states=queue.JOB_STATES,
            stages=review.stages_seen(self.store.conn),
            message=message,
        )

    # Library ----------------------------------------------------------------------------------------------
    def library(self, request: Request, form: dict[str, str]) -> Response:
        query = request.query_params
        after = None
        if query.get("after"):
            taken, _, file_id = query["after"].rpartition("|")
            after = (taken, int(file_id))
        filters = {key: query.get(key) or "" for key in ("keyword", "folder", "camera", "category", "since", "until")}
        wanted = {key: value or None for key, value in filters.items()}
        photos, cursor = review.library_page(self.store.conn, after=after, **wanted)
        fragment = request.headers.get("hx-request") == "true" and after is not None
        return self.app.render(
            request,
            "_grid.html" if fragment else "library.html",
            photos=photos,
            cursor=f"{cursor[0]}|{cursor[1]}" if cursor else "",
            filters=filters,
            cameras=review.cameras(self.store.conn),
            categories=review.categories(self.store.conn),
            folders=[str(w.path) for w in self.config.watch] + [str(self.config.library.root)],
            vocabulary=[] if fragment else self.vocabulary(),
        )

    # Photo ------------------------------------------------------------------------------------------------
    def photo(self, request: Request, form: dict[str, str]) -> Response:
        info = review.photo(self.store.conn, request.path_params["file_id"])
        if info is None:
            return self.app.render(request, "missing.html", code=404)
        return self.app.render(request, "photo.html", photo=info, message="", vocabulary=self.vocabulary())

    def vocabulary(self) -> list[str]:
        made, words = self._vocabulary
        if time.monotonic() - made >= VOCABULARY_SECONDS:
            words = review.vocabulary(self.store.conn)
            self._vocabulary = (time.monotonic(), words)
        return words

    def keyword(self, request: Request, form: dict[str, str]) -> Response:
        file_id = request.path_params["file_id"]
        action, keyword = form.get("action", ""), form.get("keyword", "")
        try:
            outcome = corrections.correct_keyword(self.store.conn, file_id, keyword, action, rerun="metadata")
        except (ValueError, LookupError) as exc:
            return Response(str(exc), status_code=400)
        if outcome == "requeued":
            self.wake()
        log.info("keyword corrected", extra={"event": "correction", "detail": f"{action} {keyword!r} on {file_id}"})
        info = review.photo(self.store.conn, file_id)
        said = "rejected: it is removed from the file" if action == "reject" else "is yours: it is kept in the file"
        return self.app.render(request, "_keywords.html", photo=info, message=f"“{keyword}” {said}.")

    def caption(self, request: Request, form: dict[str, str]) -> Response:
        return self.set_text(request, form, "caption")

    def category(self, request: Request, form: dict[str, str]) -> Response:
        return self.set_text(request, form, "category")

    def set_text(self, request: Request, form: dict[str, str], kind: str) -> Response:
        """The user's caption or category: stored as a correction, written to the file, the fragment redrawn."""
        file_id = request.path_params["file_id"]
        try:
            outcome = corrections.set_text(self.store.conn, file_id, kind, form.get(kind, ""), rerun="metadata")
        except (ValueError, LookupError) as exc:
            return Response(str(exc), status_code=400)
        if outcome == "requeued":
            self.wake()
        info = review.photo(self.store.conn, file_id)
        return self.app.render(request, f"_{kind}.html", photo=info, message="Saved: it is written to the file.")

    def undo(self, request: Request, form: dict[str, str]) -> Response:
        """Move the photo back through the rename journal (as `image-engine undo --job N`)."""
        if ("POST", "/rename/undo") not in self.api:
            return Response("renaming is not part of this engine", status_code=404)
        code, answer = self.api[("POST", "/rename/undo")]({}, {"job": int(form.get("job") or 0)})
        moved = [step for step in answer.get("steps", []) if step.get("status") == "undone"]
        message = f"Moved back ({len(moved)} file(s))." if code == 200 else answer.get("error", "undo refused")
        info = review.photo(self.store.conn, request.path_params["file_id"])
        return self.app.render(request, "_renames.html", photo=info, message=message)

    def image(self, request: Request, form: dict[str, str]) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("thumb", "preview"):
            return Response("unknown image kind", status_code=404)
        found = review.image_source(self.store.conn, request.path_params["file_id"])
        if found is None:
            return Response("no such photo (or not hashed yet)", status_code=404)
        path, sha256, orientation = found
        source = Path(path)
        if not any(source.resolve().is_relative_to(root) for root in self.roots):
            return Response("that file is outside the watched folders and the library", status_code=403)
        etag = f'"{sha256[:32]}-{kind}"'
        # Immutable only at the URL that names the content (?v=); a bare /image/... URL is revalidated.
        caching = IMMUTABLE if request.query_params.get("v") == sha256[:12] else "private, no-cache"
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": caching})
        try:
            made = self.thumbs.get(source, sha256, orientation, kind)
        except (OSError, EngineError) as exc:
            return Response(f"cannot show this photo: {exc}", status_code=404)
        return FileResponse(made, media_type="image/webp", headers={"ETag": etag, "Cache-Control": caching})
