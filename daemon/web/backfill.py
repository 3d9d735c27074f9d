"""Thumbnails for photos processed before the review app existed: made in the background, one at a time.

Low priority: it waits while the engine has work queued or running, pauses between photos, and stops with it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from daemon.errors import EngineError
from daemon.pipeline.thumbnails import Thumbnails
from daemon.store import Store, queue, review

log = logging.getLogger("image_engine.web")
BATCH = 50


class Backfill:
    def __init__(self, store: Store, thumbs: Thumbnails, pause: float = 0.2, busy_wait: float = 5.0):
        self.store = store
        self.thumbs = thumbs
        self.pause = pause
        self.busy_wait = busy_wait
        self.stopping = threading.Event()
        self.made = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="thumb-backfill", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run(self) -> None:
        after = 0
        try:
            while not self.stopping.is_set():
                if self.busy():
                    self.stopping.wait(self.busy_wait)
                    continue
                rows = review.thumbnail_sources(self.store.conn, after, BATCH)
                if not rows:
                    break
                for file_id, path, sha256, orientation in rows:
                    after = file_id
                    if self.stopping.is_set() or self.busy():
                        break
                    if self.thumbs.path(sha256, "thumb").exists():
                        continue
                    try:
                        self.thumbs.get(Path(path), sha256, orientation, "thumb")
                        self.made += 1
                    except (OSError, EngineError) as exc:  # the page shows what it can; the file is not ours to fix
                        log.debug("no thumbnail", extra={"event": "thumb_failed", "path": path, "error": str(exc)})
                    self.stopping.wait(self.pause)
            if self.made:
                log.info("thumbnails made", extra={"event": "thumb_backfill", "detail": f"{self.made} photo(s)"})
        finally:
            self.store.release_thread()

    def busy(self) -> bool:
        counts = queue.counts(self.store.conn)
        return counts["queued"] + counts["running"] > 0
