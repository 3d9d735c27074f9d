"""Control API routes of renaming: undo (the engine moves the files back and updates the store), the dry-run
plan, and the journal. Merged into the route table by the composition root (daemon/runtime/app.py).
"""

from __future__ import annotations

import threading
from typing import Any

from daemon.config import Config
from daemon.control.server import Handler
from daemon.rename.undo import UndoRefused, plan_undo, run_undo
from daemon.store import Store, rename


def rename_routes(store: Store, config: Config) -> dict[tuple[str, str], Handler]:
    undo_lock = threading.Lock()

    def undo(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        job, since, everything = body.get("job"), body.get("since"), bool(body.get("all"))
        if sum((job is not None, since is not None, everything)) != 1:
            raise ValueError("give exactly one of job, since, all")
        if not undo_lock.acquire(blocking=False):
            return 409, {"error": "another undo is running"}
        try:
            conn = store.conn
            steps = plan_undo(
                conn,
                job_id=None if job is None else int(job),
                since=None if since is None else float(since),
                everything=everything,
            )
            if not body.get("dry_run"):
                try:
                    steps = run_undo(conn, config, steps)
                except UndoRefused as refused:
                    return 409, {"error": str(refused), "conflicts": [step.to_json() for step in refused.conflicts]}
            return 200, {"dry_run": bool(body.get("dry_run")), "steps": [step.to_json() for step in steps]}
        finally:
            undo_lock.release()

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
