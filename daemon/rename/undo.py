"""Undo: move filed photos (and their companions) back to exactly where they were, through the same journal.

Nothing is replaced: when any original place is taken, the whole undo is refused and nothing moves.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.config import Config
from daemon.rename.journal import journaled_move
from daemon.rename.mover import prune_empty_folders
from daemon.rename.planner import root_of
from daemon.store import rename

log = logging.getLogger("image_engine.rename")


@dataclass
class UndoStep:
    move_id: int
    job_id: int | None
    file_id: int | None
    current: Path
    target: Path
    companions: list[tuple[Path, Path]] = field(default_factory=list)
    status: str = "ready"  # ready, undone, conflict, busy, missing, failed
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "move": self.move_id,
            "job": self.job_id,
            "from": str(self.current),
            "to": str(self.target),
            "companions": [[str(s), str(d)] for s, d in self.companions],
            "status": self.status,
            "reason": self.reason,
        }


def plan_undo(
    conn: sqlite3.Connection, job_id: int | None = None, since: float | None = None, everything: bool = False
) -> list[UndoStep]:
    steps = []
    for move in rename.moves_to_undo(conn, job_id, since, everything):
        steps.append(_step(conn, move))
    return steps


def _step(conn: sqlite3.Connection, move: rename.Move) -> UndoStep:
    current, state = (None, None) if move.file_id is None else rename.file_state(conn, move.file_id)
    step = UndoStep(move.id, move.job_id, move.file_id, Path(current or move.dest), Path(move.src))
    if state in rename.ACTIVE:
        step.status, step.reason = "busy", "its job is still running; undo it once the job is done"
        return step
    if not os.path.lexists(step.current):
        step.status, step.reason = "missing", f"no longer at {step.current} (moved or deleted since)"
        return step
    if os.path.lexists(step.target) or rename.known_present(conn, str(step.target)):
        step.status, step.reason = "conflict", f"{step.target} exists: another file took its old place"
        return step
    for src, dest in move.companions:
        if not os.path.lexists(dest):
            continue  # a companion removed since is not recreated
        if os.path.lexists(src):
            step.status, step.reason = "conflict", f"{src} exists: another file took the old place of a companion"
            return step
        step.companions.append((Path(dest), Path(src)))
    return step


def run_undo(conn: sqlite3.Connection, config: Config, steps: list[UndoStep]) -> list[UndoStep]:
    """Move every ready step back (refuse all when any step conflicts); returns the steps with their outcome."""
    if any(step.status == "conflict" for step in steps):
        raise UndoRefused([step for step in steps if step.status == "conflict"])
    for step in steps:
        if step.status != "ready":
            continue
        try:
            move_id = journaled_move(
                conn,
                kind="undo",
                job_id=step.job_id,
                file_id=step.file_id,
                src=step.current,
                dest=step.target,
                companions=step.companions,
                undo_of=step.move_id,
                reason="undo",
            )
        except OSError as exc:
            step.status, step.reason = "failed", f"cannot move back: {exc}"
            continue
        if move_id is None:
            step.status, step.reason = "conflict", f"{step.target} is taken by a file the engine knows"
            continue
        info = os.stat(step.target, follow_symlinks=False)
        rename.confirm_intent(
            conn, move_id, (info.st_size, info.st_mtime_ns, info.st_ino), root_of(config, step.target)
        )
        step.status, step.reason = "undone", "moved back"
        log.info("move undone", extra={"event": "undone", "path": str(step.target), "detail": str(step.current)})
        if step.current.parent != step.target.parent:
            prune_empty_folders(step.current.parent, config.library.root)
    return steps


class UndoRefused(Exception):
    def __init__(self, conflicts: list[UndoStep]):
        self.conflicts = conflicts
        lines = [f"  {step.current} -> {step.target}: {step.reason}" for step in conflicts[:20]]
        more = f"\n  ... and {len(conflicts) - 20} more" if len(conflicts) > 20 else ""
        super().__init__(
            f"nothing was moved: {len(conflicts)} original place(s) are taken; move those files away first"
            " (or undo the others one by one with --job):\n" + "\n".join(lines) + more
        )
