"""Control API routes of a backfill: start one (locally or on a Ray cluster) and read its progress."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.control.server import Handler


def backfill_routes(
    start: Callable[[list[Path], str | None], dict[str, Any]], progress: Callable[[], dict[str, Any]]
) -> dict[tuple[str, str], Handler]:
    """`start(paths, ray)`: ray is None (local), "auto" or a head node's address."""

    def begin(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        paths = body.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(path, str) for path in paths):
            raise ValueError("paths: give one or more folders to backfill")
        ray = body.get("ray")
        if ray is not None and (not isinstance(ray, str) or not ray.strip()):
            raise ValueError('ray: "auto" or the head node\'s HOST:PORT')
        return 202, start([Path(path) for path in paths], ray)

    def show(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, progress()

    return {("POST", "/backfill"): begin, ("GET", "/backfill"): show}
