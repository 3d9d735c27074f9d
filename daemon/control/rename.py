"""Control API routes of renaming: undo (the engine moves the files back and updates the store), the dry-run
plan, and the journal. Merged into the route table by the composition root (daemon/runtime/app.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from daemon.config import Config
from daemon.control.server import Handler
from daemon.rename.undo import UndoRefused
from daemon.rename.undo_request import perform_undo
from daemon.store import Store, rename


def rename_routes(
    store: Store, config: Config, first_stage: str, wake: Callable[[], None]
) -> dict[tuple[str, str], Handler]:
    """`first_stage` and `wake`: where `undo --refile` queues the files moved back, and telling the workers."""
    undo_lock = threading.Lock()

    def undo(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if not undo_lock.acquire(blocking=False):
            return 409, {"error": "another undo is running"}
        try:
            answer = perform_undo(store.conn, config, body, first_stage)
        except UndoRefused as refused:
            return 409, {"error": str(refused), "conflicts": [step.to_json() for step in refused.conflicts]}
        finally:
            undo_lock.release()
        if answer["refiled"]:
            wake()
        return 200, answer

    def plan(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        moves = rename.planned(store.conn)
        return 200, {"dry_run": config.rename.dry_run, "plan": [move.to_json() for move in moves]}

    def journal(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        limit = min(int(query.get("limit", 100)), 10_000)
        return 200, {"moves": [move.to_json() for move in rename.journal(store.conn, limit)]}

    return {
        ("POST", "/rename/undo"): undo,
        ("GET", "/rename/plan"): plan,
        ("GET", "/rename/journal"): journal,
    }
