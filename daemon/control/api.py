"""Core control API routes: status, pause/resume, scan, jobs, retry.

Each handler takes (query, body) and returns (HTTP status, JSON payload); features add their own route modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.control.server import Handler
from daemon.store import queue

if TYPE_CHECKING:
    from daemon.runtime.app import App


def core_routes(app: App) -> dict[tuple[str, str], Handler]:
    def status(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, app.status().to_json()

    def pause(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        app.set_paused(True)
        return 200, {"state": "paused"}

    def resume(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        app.set_paused(False)
        return 200, {"state": "running"}

    def scan(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        path = body.get("path")
        return 202, {"scan": app.start_scan(Path(path) if path else None)}

    def scan_progress(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        progress = app.scans.get(int(query["id"]))
        return (200, progress) if progress else (404, {"error": "no such scan"})

    def jobs(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        state = query.get("state")
        if state and state not in queue.JOB_STATES:
            raise ValueError(f"state must be one of {', '.join(queue.JOB_STATES)}")
        limit = min(int(query.get("limit", 100)), 10_000)
        return 200, {"jobs": queue.list_jobs(app.store.conn, state, limit)}

    def retry(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        count = queue.retry_failed(app.store.conn, app.pipeline.first)
        app.control.work_available.set()
        return 200, {"retried": count}

    return {
        ("GET", "/status"): status,
        ("POST", "/pause"): pause,
        ("POST", "/resume"): resume,
        ("POST", "/scan"): scan,
        ("GET", "/scan"): scan_progress,
        ("GET", "/jobs"): jobs,
        ("POST", "/retry"): retry,
    }
