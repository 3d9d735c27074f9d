"""watchdog observers, one per watched root: inotify where it works, polling where it cannot.

Network filesystems and exhausted inotify watches are detected and fall back to polling, saying why.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from daemon.config import WatchConfig
from daemon.store import Store, files
from daemon.watch.filters import is_ignored
from daemon.watch.intake import Intake

log = logging.getLogger("image_engine.watch")
NETWORK_FILESYSTEMS = frozenset(
    {
        "cifs",
        "smb3",
        "smbfs",
        "nfs",
        "nfs4",
        "fuse.sshfs",
        "sshfs",
        "9p",
        "afpfs",
        "fuse.rclone",
        "davfs",
        "fuse.gvfsd-fuse",
        "ncpfs",
        "glusterfs",
        "ceph",
    }
)
SYSCTL_HINT = (
    "raise the limit: sudo sysctl fs.inotify.max_user_watches=524288 (and add it to /etc/sysctl.d/ to keep it)"
)


class RootHandler(FileSystemEventHandler):
    """Runs on watchdog's thread: only hands paths on, never does work."""

    def __init__(self, root: str, intake: Intake, store: Store, ignore: list[str]):
        self.root = root
        self.intake = intake
        self.store = store
        self.ignore = ignore

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._dispatch(event)
        except Exception:  # noqa: BLE001 - an event must never kill the observer thread
            log.exception("watch event failed", extra={"event": "watch_error", "path": str(event.src_path)})

    def _dispatch(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if isinstance(event, DirMovedEvent):
            dest = os.fsdecode(event.dest_path)
            files.moved_folder(self.store.conn, src, dest, self.root, os.sep)
            return
        if event.is_directory:
            return
        if isinstance(event, FileMovedEvent):
            dest = os.fsdecode(event.dest_path)
            self.intake.forget(src)
            if is_ignored(Path(dest), self.ignore):
                return
            if not is_ignored(Path(src), self.ignore) and files.moved(self.store.conn, src, dest, self.root):
                log.info("file moved", extra={"event": "moved", "path": dest})
                return
            self.intake.submit(dest, self.root)
        elif isinstance(event, FileClosedEvent):
            self.intake.submit(src, self.root, closed=True)
        elif isinstance(event, FileModifiedEvent):
            self.intake.submit(src, self.root, writing=self.writes_close)
        elif isinstance(event, FileCreatedEvent):
            # A copy writes (Modified) right after Created; a Created alone is a file that appeared whole
            # (moved in under a new folder, or replayed by watchdog): size+mtime stability decides.
            self.intake.submit(src, self.root)
        elif isinstance(event, FileDeletedEvent):
            self.intake.forget(src)
            files.mark_missing(self.store.conn, [src])

    writes_close = True


# Asked of inotify by name: by default watchdog also asks for IN_OPEN and IN_CLOSE_NOWRITE, so every read of a
# photo (ours included) queued two events, and reading 100,000 photos overflowed the kernel's queue again and again.
HANDLED_EVENTS = (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
)


@dataclass
class WatchedRoot:
    config: WatchConfig
    observer: BaseObserver
    polling: bool
    reason: str


def filesystem_type(path: Path) -> str | None:
    """The mount type of the longest mount point containing `path` (Linux /proc/mounts)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, best_type = "", None
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        if (target == mount_point or target.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def count_folders(root: Path, recursive: bool, ignore: list[str]) -> int:
    if not recursive:
        return 1
    count = 0
    for _folder, subfolders, _ in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        count += 1
    return count


def own_inotify_watches() -> int | None:
    """How many inotify watches this process holds (from /proc/self/fdinfo), None where unknown."""
    total, found = 0, False
    try:
        for fd in os.listdir("/proc/self/fdinfo"):
            try:
                with open(f"/proc/self/fdinfo/{fd}") as handle:
                    lines = handle.read().splitlines()
            except OSError:
                continue
            watches = sum(1 for line in lines if line.startswith("inotify wd:"))
            if watches:
                found = True
                total += watches
    except OSError:
        return None
    return total if found else 0


class OverflowListener(logging.Handler):
    """watchdog reports an inotify queue overflow only as a log warning: turn it into a rescan."""

    def __init__(self, on_overflow: Callable[[], None]):
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class WatchManager:
    """Starts one observer per root, and keeps it alive: missing roots are re-watched when they return."""

    def __init__(
        self,
        watches: list[WatchConfig],
        intake: Intake,
        store: Store,
        ignore: list[str],
        rescan: Callable[[Path | None], object] = lambda path: None,
    ):
        self.watches = watches
        self.intake = intake
        self.store = store
        self.ignore = ignore
        self.rescan = rescan
        self.roots: list[WatchedRoot] = []
        self.missing: list[WatchConfig] = []
        self._overflow = OverflowListener(lambda: self.rescan(None))
        self._last_check = 0.0

    def start(self) -> None:
        for name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
            logging.getLogger(name).addHandler(self._overflow)
        for watch in self.watches:
            watch.path.mkdir(parents=True, exist_ok=True)
            self.roots.append(self._start_root(watch))

    def check(self, now: float, interval: float = 2.0) -> None:
        """Called often from the app loop: notice roots that vanished or came back."""
        if now - self._last_check < interval:
            return
        self._last_check = now
        for root in list(self.roots):
            if not root.config.path.is_dir():
                log.error(
                    "watched folder is gone",
                    extra={
                        "event": "root_missing",
                        "path": str(root.config.path),
                        "detail": "it will be watched again when it returns",
                    },
                )
                root.observer.stop()
                self.roots.remove(root)
                self.missing.append(root.config)
        for watch in list(self.missing):
            if watch.path.is_dir():
                self.missing.remove(watch)
                self.roots.append(self._start_root(watch))
                log.info("watched folder is back", extra={"event": "root_back", "path": str(watch.path)})
                self.rescan(watch.path)

    def _start_root(self, watch: WatchConfig) -> WatchedRoot:
        fs_type = filesystem_type(watch.path)
        if watch.polling:
            return self._polling(watch, "polling = true in config")
        if fs_type in NETWORK_FILESYSTEMS:
            return self._polling(
                watch,
                f"{watch.path} is on a network filesystem ({fs_type}): inotify sees no remote changes, polling instead",
            )
        before = own_inotify_watches()
        observer = Observer()
        handler = RootHandler(str(watch.path), self.intake, self.store, self.ignore)
        try:
            observer.schedule(handler, str(watch.path), recursive=watch.recursive, event_filter=list(HANDLED_EVENTS))
            observer.start()
        except OSError as exc:
            return self._polling(watch, f"cannot watch {watch.path} with inotify ({exc}); {SYSCTL_HINT}")
        after = own_inotify_watches()
        if before is not None and after is not None and observer.__class__.__name__ == "InotifyObserver":
            folders = count_folders(watch.path, watch.recursive, self.ignore)
            placed = after - before
            if placed < folders:  # or a folder made meanwhile (a photo filed): watchdog watches it on its event
                time.sleep(0.5)
                now = own_inotify_watches()
                placed = placed if now is None else now - before
                folders = count_folders(watch.path, watch.recursive, self.ignore)
            if placed < folders:
                observer.stop()
                return self._polling(
                    watch,
                    f"inotify watches ran out under {watch.path}: placed {placed} of"
                    f" {folders} folders; polling instead. To fix, {SYSCTL_HINT}",
                )
        log.info(
            "watching",
            extra={
                "event": "watching",
                "path": str(watch.path),
                "detail": f"{observer.__class__.__name__}, recursive={watch.recursive}",
            },
        )
        return WatchedRoot(watch, observer, polling=False, reason="")

    def _polling(self, watch: WatchConfig, reason: str) -> WatchedRoot:
        observer = PollingObserver(timeout=watch.poll_interval)
        handler = RootHandler(str(watch.path), self.intake, self.store, self.ignore)
        handler.writes_close = False
        observer.schedule(handler, str(watch.path), recursive=watch.recursive)
        observer.start()
        log.warning(
            "watching by polling", extra={"event": "watching_polling", "path": str(watch.path), "detail": reason}
        )
        return WatchedRoot(watch, observer, polling=True, reason=reason)

    def stop(self) -> None:
        for name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
            logging.getLogger(name).removeHandler(self._overflow)
        for root in self.roots:
            root.observer.stop()
        for root in self.roots:
            root.observer.join(timeout=5)
        self.roots.clear()
