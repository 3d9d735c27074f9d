"""The progress of recent scans (a bounded history), and the rule "one rescan at a time, one more if asked meanwhile".

Every check-and-change happens under one lock, so a rescan asked for while a scan ends is never lost or doubled.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any

KEEP_FINISHED = 50  # finished scans `image-engine scan` can still ask about; older ones are forgotten


class ScanBook:
    def __init__(self, keep_finished: int = KEEP_FINISHED):
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._progress: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._ids = itertools.count(1)
        self._again = False

    def open(self) -> dict[str, Any]:
        """A new scan's progress record, state "running"."""
        with self._lock:
            return self._open()

    def open_unless_running(self) -> dict[str, Any] | None:
        """Like `open`; but while a scan runs, None, and a rescan is noted for when it ends."""
        with self._lock:
            if self._running():
                self._again = True
                return None
            return self._open()

    def finish(self, progress: dict[str, Any], state: str, error: str | None = None) -> bool:
        """Mark a scan done or failed; True when a rescan was asked for while it ran (the caller starts it)."""
        with self._lock:
            progress["state"] = state
            if error is not None:
                progress["error"] = error
            if not self._again or self._running():
                return False  # nothing asked, or a scan still running takes the request along when it ends
            self._again = False
            return True

    def get(self, scan_id: int) -> dict[str, Any] | None:
        with self._lock:
            progress = self._progress.get(scan_id)
            return None if progress is None else dict(progress)

    def __len__(self) -> int:
        with self._lock:
            return len(self._progress)

    def _open(self) -> dict[str, Any]:
        scan_id = next(self._ids)
        progress = {"id": scan_id, "state": "running", "done": 0, "total": 0, "submitted": 0, "missing": 0}
        self._progress[scan_id] = progress
        self._forget_old()
        return progress

    def _running(self) -> bool:
        return any(progress["state"] == "running" for progress in self._progress.values())

    def _forget_old(self) -> None:
        finished = [scan_id for scan_id, progress in self._progress.items() if progress["state"] != "running"]
        for scan_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._progress[scan_id]
