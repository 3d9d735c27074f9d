"""The review app's People page: every person with a face of theirs, their count and a sample photo; name (or
rename) a person and merge two. Each change is the user's word (daemon/people/service.py): the names reach the files.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from daemon.errors import EngineError
from daemon.people import service
from daemon.store import Store, review
from daemon.store import faces as faces_store
from daemon.store import people as people_store

if TYPE_CHECKING:
    from daemon.web.kinds import Page, Renderer
    from daemon.web.pages import Pages

FACE_PIXELS = 96
CACHE = "private, max-age=300"


class People:
    def __init__(self, app: Renderer, store: Store, wake: Callable[[], None], rerun: str | None, pages: Pages):
        self.app = app
        self.store = store
        self.wake = wake
        self.rerun = rerun
        self.pages = pages  # its watched roots and thumbnails: a face is cut from the photo's cached preview

    def routes(self, page: Callable[[Page], Any]) -> list[Route]:
        return [
            Route("/people", page(self.show)),
            Route("/people/name", page(self.name), methods=["POST"]),
            Route("/people/merge", page(self.merge), methods=["POST"]),
            Route("/people/face/{face_id:int}", page(self.face)),
        ]

    def face(self, request: Request, form: dict[str, str]) -> Response:
        """The face, cut from the photo's preview with a margin, FACE_PIXELS square (WebP)."""
        found = faces_store.face_box(self.store.conn, request.path_params["face_id"])
        source = found and review.image_source(self.store.conn, found[0])
        if not found or not source or min(found[2]) <= 0:
            return Response("no such face (or its photo is not hashed yet)", status_code=404)
        path = Path(source[0])
        if not any(path.resolve().is_relative_to(root) for root in self.pages.roots):
            return Response("that file is outside the watched folders and the library", status_code=403)
        try:
            preview = self.pages.thumbs.get(path, source[1], source[2], "preview")
        except (OSError, EngineError) as exc:
            return Response(f"cannot show this face: {exc}", status_code=404)
        return Response(_cut(preview, found[1], found[2]), media_type="image/webp", headers={"Cache-Control": CACHE})

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


def _cut(preview: Path, box: list[float], size: list[int]) -> bytes:
    from PIL import Image

    with Image.open(preview) as image:
        scale = image.width / size[0]
        x, y, w, h = (value * scale for value in box)
        side = max(w, h) * 1.4  # the whole head, a little of the hair and chin
        left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
        face = image.convert("RGB").crop((round(left), round(top), round(left + side), round(top + side)))
    buffer = io.BytesIO()
    face.resize((FACE_PIXELS, FACE_PIXELS)).save(buffer, "WEBP", quality=80)
    return buffer.getvalue()
