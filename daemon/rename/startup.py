"""Start-up duties of renaming, run by App.start before any worker: settle interrupted moves from the disk,
and send files whose dry-run plan no longer holds (dry run off, template changed) back to the rename stage.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from daemon.config import Config
from daemon.rename.journal import recover
from daemon.rename.planner import root_of
from daemon.store import rename

log = logging.getLogger("image_engine.rename")


def settle_on_start(conn: sqlite3.Connection, config: Config) -> dict[str, int]:
    counts = recover(conn, lambda path: root_of(config, Path(path)))
    if counts["done"] or counts["rolled_back"]:
        log.warning(
            "interrupted moves settled",
            extra={
                "event": "rename_recovered",
                "detail": f"{counts['done']} finished, {counts['rolled_back']} rolled back",
            },
        )
    if not config.rename.enabled:
        return counts
    stale = rename.stale_plans(conn, config.rename.template, config.rename.dry_run)
    if stale:
        requeued = rename.requeue_for_rename(conn, stale)
        counts["replanned"] = requeued
        log.info(
            "dry-run plans out of date",
            extra={"event": "rename_replan", "detail": f"{requeued} file(s) go through rename again"},
        )
    return counts
