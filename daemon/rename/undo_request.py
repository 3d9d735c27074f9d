"""One undo request, run the same way by the service (control API) and by the CLI when no service is running.

Files moved back are not filed again by themselves (their content did not change); `refile` queues them again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from daemon.config import Config
from daemon.rename.undo import plan_undo, run_undo
from daemon.store.requeue import requeue_files


def perform_undo(conn: sqlite3.Connection, config: Config, body: dict[str, Any], first_stage: str) -> dict[str, Any]:
    """`body`: exactly one of job / since / all, plus dry_run and refile. Raises UndoRefused when a place is taken."""
    job, since, everything = body.get("job"), body.get("since"), bool(body.get("all"))
    if sum((job is not None, since is not None, everything)) != 1:
        raise ValueError("give exactly one of job, since, all")
    dry_run = bool(body.get("dry_run"))
    steps = plan_undo(
        conn,
        job_id=None if job is None else int(job),
        since=None if since is None else float(since),
        everything=everything,
    )
    refiled = 0
    if not dry_run:
        steps = run_undo(conn, config, steps)
        if body.get("refile"):
            moved_back = [step.file_id for step in steps if step.status == "undone" and step.file_id is not None]
            refiled = requeue_files(conn, moved_back, first_stage)
    return {"dry_run": dry_run, "steps": [step.to_json() for step in steps], "refiled": refiled}
