"""A rename batch's intents in one transaction, committed before any of its files moves.

Only plain moves are opened here; a file with an interrupted move, a kept or deleted duplicate, a dry run or any
error goes through the stage's one-by-one path, which decides again and says what went wrong.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from daemon.errors import StoreError
from daemon.rename.planner import Decision
from daemon.rename.values import naming_values
from daemon.store import rename, transaction

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from daemon.config import RenameConfig
    from daemon.pipeline.base import WorkItem
    from daemon.rename.planner import Planner

log = logging.getLogger("image_engine.rename")


def open_batch_intents(
    conn: sqlite3.Connection,
    planner: Planner,
    settings: RenameConfig,
    items: list[WorkItem],
    private: Callable[[WorkItem], bool],
) -> dict[int, tuple[Decision, int]]:
    """id(item) -> (its decision, its committed intent) for the items that are plain moves. Each intent is a
    savepoint of one transaction, so later decisions see the names earlier ones took; nothing is opened when the
    commit fails (each file then goes alone)."""
    opened: dict[int, tuple[Decision, int]] = {}
    try:
        with transaction(conn):
            for item in items:
                try:
                    found = _open_one(conn, planner, settings, item, private(item))
                except Exception as exc:  # noqa: BLE001 - the one-by-one path meets it again and reports it
                    log.debug("batch intent skipped", extra={"event": "rename_batch_skip", "error": str(exc)})
                    continue
                if found is not None:
                    opened[id(item)] = found
    except StoreError as exc:
        log.warning("rename batch not opened", extra={"event": "rename_batch_failed", "error": str(exc)})
        return {}
    return opened


def _open_one(
    conn: sqlite3.Connection, planner: Planner, settings: RenameConfig, item: WorkItem, private: bool
) -> tuple[Decision, int] | None:
    job = item.job
    if rename.open_intents(conn, job_id=job.id) or rename.done_move_for_job(conn, job.id) is not None:
        return None  # an interrupted move of this job: the stage settles it from the disk
    if not os.path.lexists(item.path):
        return None
    values = naming_values(
        item.path, item.result("probe"), item.result("hash"), item.result("tag"), settings.jpeg_as_jpg
    )
    decision = planner.decide(conn, item.path, values, item.result("dedup"), private)
    if decision.delete_as_copy_of is not None or not decision.move:
        return None
    move_id = rename.open_intent(
        conn,
        kind="file",
        job_id=job.id,
        file_id=job.file_id,
        src=str(decision.src),
        dest=str(decision.dest),
        companions=[(str(s), str(d)) for s, d in decision.companions],
        partners=[str(p) for p in decision.partners or []],
        template=settings.template,
        reason=decision.reason,
    )
    return None if move_id is None else (decision, move_id)
