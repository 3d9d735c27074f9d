"""Journaled moves: the intent is committed before anything moves, and an intent left open (crash, lost lease)
is finished or rolled back by looking at the disk. Used by the rename stage, undo and start-up recovery.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from daemon.rename.mover import TargetExists, move_file, part_path, same_content
from daemon.store import rename

log = logging.getLogger("image_engine.rename")
RootOf = Callable[[Path], str]


def journaled_move(
    conn: sqlite3.Connection,
    *,
    kind: str,
    job_id: int | None,
    file_id: int | None,
    src: Path,
    dest: Path,
    companions: list[tuple[Path, Path]],
    partners: list[Path] | None = None,
    undo_of: int | None = None,
    template: str | None = None,
    reason: str | None = None,
) -> int | None:
    """Intent, then the moves (file first, then companions). None when a target is taken in the store.

    On failure the moves made so far are put back and the intent rolled back, and the error is raised; if even
    that fails the intent stays open for start-up recovery to settle from the disk.
    """
    move_id = rename.open_intent(
        conn,
        kind=kind,
        job_id=job_id,
        file_id=file_id,
        src=str(src),
        dest=str(dest),
        companions=[(str(s), str(d)) for s, d in companions],
        partners=[str(p) for p in partners or []],
        undo_of=undo_of,
        template=template,
        reason=reason,
    )
    if move_id is None:
        return None
    move_under_intent(conn, move_id, src, dest, companions)
    return move_id


def move_under_intent(
    conn: sqlite3.Connection, move_id: int, src: Path, dest: Path, companions: list[tuple[Path, Path]]
) -> None:
    """The moves of an intent already committed (file first, then companions); on failure the moves made so far are
    put back and the intent rolled back, and the error is raised."""
    done: list[tuple[Path, Path]] = []
    try:
        for source, target in [(src, dest), *companions]:
            move_file(source, target)
            done.append((source, target))
    except BaseException as exc:
        try:
            for source, target in reversed(done):
                move_file(target, source)
        except OSError as undo_error:
            log.error(
                "cannot put a file back after a failed move; start-up recovery will settle it",
                extra={"event": "rename_stuck", "path": str(src), "error": str(undo_error)},
            )
            raise exc from None
        rename.rollback_intent(conn, move_id, f"move failed: {exc}")
        raise


def resolve(conn: sqlite3.Connection, move: rename.Move, root_of: RootOf) -> str:
    """Finish or roll back an open intent from what is on disk; returns 'done' or 'rolled_back'.

    src there and dest not: it never moved. dest there and src not: it moved. Both: the same content means
    the move got as far as the new name (its old name is removed), other content means dest is not ours.
    Companions follow the file's verdict, one by one.
    """
    src, dest = Path(move.src), Path(move.dest)
    part_path(dest).unlink(missing_ok=True)  # an interrupted copy across filesystems
    forward, detail = _verdict(src, dest)
    for companion_src, companion_dest in move.companions:
        source, target = (Path(companion_src), Path(companion_dest))
        part_path(target).unlink(missing_ok=True)
        if forward:
            _settle_pair(source, target)
        else:
            _settle_pair(target, source)
    if forward:
        info = os.stat(dest, follow_symlinks=False)
        rename.confirm_intent(
            conn, move.id, (info.st_size, info.st_mtime_ns, info.st_ino), root_of(dest), detail=detail
        )
        outcome = "done"
    else:
        rename.rollback_intent(conn, move.id, detail)
        outcome = "rolled_back"
    log.warning(
        "interrupted move settled",
        extra={
            "event": f"rename_{outcome}",
            "job": move.job_id,
            "path": str(dest if forward else src),
            "source": str(src),
            "dest": str(dest),
            "detail": detail,
        },
    )
    return outcome


def _verdict(src: Path, dest: Path) -> tuple[bool, str]:
    at_src, at_dest = os.path.lexists(src), os.path.lexists(dest)
    if at_dest and not at_src:
        return True, "finished at start-up: the file was already at its new place"
    if at_src and not at_dest:
        return False, "rolled back at start-up: the file had not moved"
    if at_src and at_dest:
        if same_content(src, dest):
            os.unlink(src)
            return True, "finished at start-up: the copy was complete, the old name removed"
        return False, f"rolled back at start-up: {dest} holds another file"
    return False, "rolled back at start-up: the file is at neither place"


def _settle_pair(source: Path, target: Path) -> None:
    """Make `source` end up at `target` (if it can without replacing anything)."""
    at_source, at_target = os.path.lexists(source), os.path.lexists(target)
    try:
        if at_source and not at_target:
            move_file(source, target)
        elif at_source and at_target and same_content(source, target):
            os.unlink(source)
    except (TargetExists, OSError) as exc:
        log.error("cannot settle a companion", extra={"event": "rename_error", "path": str(source), "error": str(exc)})


def recover(conn: sqlite3.Connection, root_of: RootOf) -> dict[str, int]:
    """Start-up, before any worker runs: settle every open intent."""
    counts = {"done": 0, "rolled_back": 0}
    for move in rename.open_intents(conn):
        counts[resolve(conn, move, root_of)] += 1
    return counts
