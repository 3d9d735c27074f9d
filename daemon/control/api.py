"""Core control API routes: status, pause/resume, scan, jobs, retry.

Each handler takes (query, body) and returns (HTTP status, JSON payload); features add their own route modules.
The routes see the engine only through `Engine`, the few things they ask of it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from daemon.control.protocol import Status
from daemon.control.server import Handler
from daemon.store import Store, outcomes, queue


class Engine(Protocol):
    """What the core routes ask of the running engine (the runtime's App provides it)."""

    def status(self) -> Status: ...

    def set_paused(self, paused: bool) -> None: ...

    def start_scan(self, path: Path | None) -> int: ...

    def scan_progress(self, scan_id: int) -> dict[str, Any] | None: ...


def core_routes(engine: Engine, store: Store, wake: Callable[[], None]) -> dict[tuple[str, str], Handler]:
    """`wake`: tell the workers there is work (after a retry)."""

    def status(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {**engine.status().to_json(), "not_filed": outcomes.recent_not_filed(store.conn)}

    def pause(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        changed = engine.status().state != "paused"
        engine.set_paused(True)
        return 200, {"state": "paused", "changed": changed}

    def resume(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        changed = engine.status().state == "paused"
        engine.set_paused(False)
        return 200, {"state": "running", "changed": changed}

    def scan(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        path = body.get("path")
        return 202, {"scan": engine.start_scan(Path(path) if path else None)}

    def scan_progress(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        progress = engine.scan_progress(int(query["id"]))
        return (200, progress) if progress else (404, {"error": "no such scan"})

    def jobs(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        state = query.get("state")
        if state and state not in queue.JOB_STATES:
            raise ValueError(f"state must be one of {', '.join(queue.JOB_STATES)}")
        limit = min(int(query.get("limit", 100)), 10_000)
        listed = queue.list_jobs(store.conn, state, limit)
        finished = [job["id"] for job in listed if job["state"] == "done"]
        notes = {**outcomes.sidecar_notes(store.conn, finished), **outcomes.not_filed_notes(store.conn, finished)}
        return 200, {"jobs": [{**job, "note": notes.get(job["id"])} for job in listed]}

    def retry(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        count = queue.retry_failed(store.conn)
        wake()
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
