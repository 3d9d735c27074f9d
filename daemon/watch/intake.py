"""The settle step between watch events and the queue: a file is queued only once it is complete.

Closed-after-write files go at once; others when size and mtime hold still; a group waits for all members.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat as stat_module
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from daemon.errors import StoreError
from daemon.pipeline.hashing import sha256_file
from daemon.store import Store, files, queue
from daemon.store.enqueue_batch import Arrival, Enqueued, enqueue_many
from daemon.store.queue import FileStat
from daemon.watch.filters import group_key, kind_of

log = logging.getLogger("image_engine.intake")
LOST_CLOSE_FACTOR = 20
# A scan waits while this many paths are still settling: every pending path is looked at on each round.
MAX_PENDING_FROM_SCAN = 5000
INTAKE_BATCH = 500  # files queued per transaction
# A batch queuing more files than this says so in one INFO line; each file's line is then at DEBUG (a 100,000-file
# copy would otherwise spend half its intake writing the log, and push older history out of the rotated files).
LINES_PER_FILE_UP_TO = 20
# After a wake-up, the next files of a copy are let in before settling: they are queued in one transaction, and the
# workers then claim them several at a time (a file queued alone cost ~40 KB of database writes: its own commit).
GATHER_SECONDS = 0.2


@dataclass(slots=True)
class Pending:
    path: str
    root: str
    kind: str
    group: tuple[str, str]  # filters.group_key: the files that settle together
    state: str  # "closed" (complete now), "writing" (wait for close), "unknown" (wait for stability)
    stat: FileStat | None
    stable_since: float


class Intake:
    """Takes paths from watch handlers (cheap, any thread) and enqueues them from its own thread."""

    def __init__(
        self,
        store: Store,
        first_stage: str,
        settle_seconds: float,
        ignore: list[str],
        on_enqueued: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.first_stage = first_stage
        self.settle_seconds = settle_seconds
        self.ignore = ignore
        self.on_enqueued = on_enqueued
        self.clock = clock
        self._pending: dict[str, Pending] = {}
        self._refused: set[str] = set()  # names that cannot be stored, said once each
        self.max_pending_from_scan = MAX_PENDING_FROM_SCAN
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, path: str, root: str, *, closed: bool = False, writing: bool = False) -> None:
        """Note a path seen by a watcher or a scan; never blocks on I/O."""
        kind = None
        if path not in self._pending:  # a copy reports a file two or three times: only the first is classified
            kind = kind_of(path, self.ignore)
            if kind is None or not self._storable(path):
                return
        with self._lock:
            entry = self._pending.get(path)
            if entry is None:
                kind = kind or kind_of(path, self.ignore)  # it was queued since the look above
                if kind is None:
                    return
                entry = Pending(
                    path, root, kind, group_key(path), state="unknown", stat=None, stable_since=self.clock()
                )
                self._pending[path] = entry
            if closed:
                entry.state = "closed"
            elif writing:
                entry.state = "writing"
        if not self._wake.is_set():  # a copy submits each file two or three times: set costs a lock and a notify
            self._wake.set()

    def _storable(self, path: str) -> bool:
        """A name that is not valid UTF-8 (undecodable bytes) cannot be stored: said once, and left alone."""
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            if path not in self._refused:
                self._refused.add(path)
                log.error(
                    "cannot queue a file whose name is not valid UTF-8: rename it",
                    extra={"event": "intake_error", "path": path, "error": "file name is not valid UTF-8"},
                )
            return False
        return True

    def wait_for_room(self) -> None:
        """Back-pressure for scans (never for watch handlers): wait while too many paths are settling."""
        while (
            self.pending_count() >= self.max_pending_from_scan
            and not self._stop.is_set()
            and self._thread
            and self._thread.is_alive()
        ):
            self._wake.set()
            time.sleep(0.05)

    def forget(self, path: str) -> None:
        with self._lock:
            self._pending.pop(path, None)

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="intake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.settle_once()
            except (StoreError, sqlite3.Error, OSError) as exc:
                log.error("cannot queue files", extra={"event": "intake_error", "error": str(exc)})
                delay = 1.0
            self._wake.wait(delay)
            self._wake.clear()
            self._stop.wait(GATHER_SECONDS)

    def settle_once(self) -> float:
        """Enqueue every group whose members are all complete; returns how long to sleep."""
        now = self.clock()
        ready: dict[tuple[str, str], list[Pending]] = {}
        waiting_groups: set[tuple[str, str]] = set()
        with self._lock:
            entries = list(self._pending.values())
        for entry in entries:
            if self._is_complete(entry, now):
                ready.setdefault(entry.group, []).append(entry)
            elif entry.path in self._pending:
                waiting_groups.add(entry.group)
        complete = [entry for key, members in ready.items() if key not in waiting_groups for entry in members]
        for start in range(0, len(complete), INTAKE_BATCH):
            self._enqueue_batch(complete[start : start + INTAKE_BATCH], now)
        with self._lock:
            return 0.05 if self._pending else 1.0

    def _enqueue_batch(self, entries: list[Pending], now: float) -> None:
        """Queue complete entries in one transaction (`enqueue_many`): a file that cannot be queued stays pending
        alone, and its error is raised once the others are committed. Doubts are hashed after it, one by one. A file
        leaves the pending set only once its row is committed: a commit that fails (a full disk) keeps them all."""
        photos: list[Pending] = []
        settled: list[Pending] = []  # companions leave with their photos' batch: they get no job of their own
        for entry in entries:
            (photos if entry.kind == "image" and entry.stat is not None else settled).append(entry)
        doubts, trouble = [], None
        for entry, result in zip(photos, self.enqueue_many(photos), strict=True):
            if result.error is not None:
                trouble = trouble or result.error
            elif result.outcome == "doubt":
                doubts.append(entry)
            elif result.outcome == "unsettled":
                entry.state, entry.stat, entry.stable_since = "unknown", None, now
            else:
                settled.append(entry)
        self._forget(settled)
        for entry in doubts:
            try:
                if self._settle(entry, now) != "unsettled":
                    self._forget([entry])
            except (StoreError, sqlite3.Error, OSError) as exc:
                trouble = trouble or exc
        if trouble is not None:
            raise trouble

    def enqueue_many(self, entries: list[Pending]) -> list[Enqueued]:
        """Queue complete photos in one transaction; one result each, once committed (doubts wait: `enqueue`)."""
        arrivals = [Arrival(entry.path, entry.root, entry.stat) for entry in entries if entry.stat is not None]
        assert len(arrivals) == len(entries), "only entries with a look (stat) are complete"
        results = enqueue_many(self.store.conn, arrivals, self.first_stage)
        queued = [
            (a.path, r.outcome) for a, r in zip(arrivals, results, strict=True) if r.outcome in ("new", "changed")
        ]
        each_at = logging.INFO
        if len(queued) > LINES_PER_FILE_UP_TO:
            self._log_many(queued)
            each_at = logging.DEBUG
        for arrival, result in zip(arrivals, results, strict=True):
            self._log_outcome(arrival.path, result.outcome, result.job, each_at)
        if queued:
            self.on_enqueued()
        return results

    def _log_many(self, queued: list[tuple[str, str]]) -> None:
        paths = [path for path, _ in queued]
        detail = {
            "new": sum(1 for _, outcome in queued if outcome == "new"),
            "changed": sum(1 for _, outcome in queued if outcome == "changed"),
            "first": paths[0],
            "last": paths[-1],
        }
        try:
            folder = os.path.commonpath(paths)
        except ValueError:  # paths on two Windows drives
            folder = ""
        log.info(f"queued {len(queued)} files", extra={"event": "queued_many", "path": folder, "detail": detail})

    def _settle(self, entry: Pending, now: float) -> str:
        """Queue one complete photo on its own (a doubt: hashed outside any transaction); returns the outcome."""
        assert entry.stat is not None
        outcome = self.enqueue(entry.path, entry.root, entry.stat)
        if outcome == "unsettled":
            entry.state, entry.stat, entry.stable_since = "unknown", None, now
        return outcome

    def _forget(self, entries: list[Pending]) -> None:
        with self._lock:
            for entry in entries:
                if self._pending.get(entry.path) is entry:
                    del self._pending[entry.path]

    def _is_complete(self, entry: Pending, now: float) -> bool:
        try:
            result = os.stat(entry.path, follow_symlinks=False)
        except OSError:
            with self._lock:
                self._pending.pop(entry.path, None)
            return False
        if not stat_module.S_ISREG(result.st_mode):
            with self._lock:
                self._pending.pop(entry.path, None)
            return False
        current = FileStat(result.st_size, result.st_mtime_ns, result.st_ino)
        if entry.state == "closed":
            entry.stat = current
            return True
        if current != entry.stat:
            first_look = entry.stat is None
            entry.stat, entry.stable_since = current, now
            if entry.state == "writing":
                return False
            return self.settle_seconds == 0 or (first_look and self._old_enough(result))
        held = now - entry.stable_since
        if entry.state == "writing":
            return held >= max(self.settle_seconds, 1.0) * LOST_CLOSE_FACTOR
        return held >= self.settle_seconds

    def _old_enough(self, result: os.stat_result) -> bool:
        return time.time() - result.st_mtime > max(self.settle_seconds, 0.5) * 2

    def enqueue(self, path: str, root: str, stat: FileStat) -> str:
        """Queue one file, hashing it when its size is known and its mtime is not (a doubt)."""
        outcome = queue.enqueue(self.store.conn, path, root, stat, self.first_stage, restat=True)
        if outcome == "doubt" and not self.store.conn.in_transaction:  # never hash under the write lock
            try:
                digest = sha256_file(path)
            except OSError:
                return "gone"
            outcome = queue.enqueue(
                self.store.conn, path, root, stat, self.first_stage, content_sha256=digest, restat=True
            )
        job = queue.active_job_of(self.store.conn, path) if outcome in ("new", "changed") else None
        self._log_outcome(path, outcome, job)
        if outcome in ("new", "changed"):
            self.on_enqueued()
        return outcome

    def _log_outcome(self, path: str, outcome: str, job: int | None, queued_at: int = logging.INFO) -> None:
        if outcome in ("new", "changed"):
            log.log(queued_at, "queued", extra={"event": "queued", "job": job, "path": path, "detail": outcome})
        elif outcome == "moved":
            log.info("file moved", extra={"event": "moved", "path": path})

    def recheck(self, path: str) -> None:
        """A file changed while its job ran: look at it again once its job has finished."""
        info = files.file_info(self.store.conn, path)
        self.submit(path, info["root"] if info else str(Path(path).parent))
