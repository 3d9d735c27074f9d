"""Control API routes of renaming: undo (the engine moves the files back and updates the store), the dry-run
plan, and the journal. Merged into the route table by App.routes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from daemon.control.server import Handler
from daemon.naming.undo import UndoRefused
from daemon.naming.undo_request import perform_undo
from daemon.store import renames

if TYPE_CHECKING:
    from daemon.app import App


def rename_routes(app: App) -> dict[tuple[str, str], Handler]:
    undo_lock = threading.Lock()

    def undo(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if not undo_lock.acquire(blocking=False):
            return 409, {"error": "another undo is running"}
        try:
            answer = perform_undo(app.store.conn, app.config, body, app.pipeline.first)
        except UndoRefused as refused:
            return 409, {"error": str(refused), "conflicts": [step.to_json() for step in refused.conflicts]}
        finally:
            undo_lock.release()
        if answer["refiled"]:
            app.control.work_available.set()
        return 200, answer

    def plan(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        moves = renames.planned(app.store.conn)
        return 200, {"dry_run": app.config.rename.dry_run, "plan": [move.to_json() for move in moves]}

    def journal(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        limit = min(int(query.get("limit", 100)), 10_000)
        return 200, {"moves": [move.to_json() for move in renames.journal(app.store.conn, limit)]}

    return {
        ("POST", "/rename/undo"): undo,
        ("GET", "/rename/plan"): plan,
        ("GET", "/rename/journal"): journal,
    }
