"""`[rename] duplicates = "delete"`: remove a dropped photo that is byte-identical to one the engine keeps.

The bytes are compared again right before the delete; anything less than identical leaves the file where it is.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any

from daemon.rename.mover import same_content
from daemon.rename.planner import Decision, keep
from daemon.store import files

log = logging.getLogger("image_engine.rename")


def delete_duplicate(conn: sqlite3.Connection, decision: Decision, sha256: str | None) -> dict[str, Any]:
    """Delete `decision.src` when `decision.delete_as_copy_of` is another file with the same bytes; the result."""
    original = decision.delete_as_copy_of
    why = decision.reason.removeprefix("deleted: ")
    if original is None or original == decision.src or not same_content(decision.src, original, sha256):
        reason = f"not filed: {why}; not deleted: {original} is gone or no longer byte-identical"
        return keep(decision.src, reason).result()
    os.unlink(decision.src)
    files.mark_missing(conn, [str(decision.src)])
    log.warning("duplicate deleted", extra={"event": "duplicate_deleted", "path": str(decision.src), "detail": why})
    return decision.result(deleted=True)
