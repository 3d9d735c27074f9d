"""Types the review app's page modules share: a page handler, and what renders its templates.

Kept apart from daemon/web/review.py (which imports every page module) so that no import goes in a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

Page = Callable[[Request, dict[str, str]], Response]


class Renderer(Protocol):
    def render(self, request: Request, name: str, code: int = 200, **values: Any) -> HTMLResponse: ...
