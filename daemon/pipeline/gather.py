"""A worker's wait for a fuller claim: one file claimed and recorded costs about as many database pages as 64.

Only stages after the first wait, and only while jobs are still queued or running at the stages before them.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from daemon.store import queue

GATHER_SECONDS = 1.0  # the longest wait for the rest of a claim


def gather(
    conn: sqlite3.Connection, stage_names: list[str], runnable: list[str], full: int, stop: threading.Event
) -> None:
    """Less than `full` jobs queued at `runnable`: wait while more is on its way (GATHER_SECONDS at most)."""
    earlier = stage_names[: min(stage_names.index(name) for name in runnable)]
    if not earlier:
        return  # the first stage: files arrive when they arrive (intake batches them), no wait for them
    deadline = time.monotonic() + GATHER_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        queued = queue.count_active(conn, runnable, cap=full, states=("queued",))
        if queued == 0 or queued >= full:
            return
        if not queue.count_active(conn, earlier, cap=1, states=("queued", "running")):
            return  # nothing more is on its way
        stop.wait(0.05)
