"""Reconcile a watched root with the store: find files added, changed or removed while nobody watched.

Unchanged files (same size, mtime and inode) cost one stat and one lookup; only the rest reach the settle step.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
from collections.abc import Callable, Iterator
from pathlib import Path

from daemon.store import Store, files
from daemon.store.queue import FileStat
from daemon.store.seen import SeenPaths
from daemon.watch.filters import kind_of
from daemon.watch.intake import Intake

Progress = Callable[[int, int], None]
log = logging.getLogger("image_engine.reconcile")


def walk_images(root: Path, recursive: bool, ignore: list[str]) -> Iterator[tuple[str, os.stat_result]]:
    stack = [str(root)]
    seen_dirs: set[tuple[int, int]] = set()
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            info = entry.stat(follow_symlinks=False)
                            key = (info.st_dev, info.st_ino)
                            if recursive and not entry.name.startswith(".") and key not in seen_dirs:
                                seen_dirs.add(key)
                                stack.append(entry.path)
                        elif kind_of(Path(entry.path), ignore) is not None:
                            info = entry.stat(follow_symlinks=False)
                            if stat_module.S_ISREG(info.st_mode):
                                yield entry.path, info
                    except OSError:
                        continue
        except OSError as exc:
            log.warning(
                "cannot read folder",
                extra={"event": "folder_unreadable", "path": folder, "error": exc.strerror or str(exc)},
            )
            continue


def reconcile(
    root: Path, recursive: bool, store: Store, intake: Intake, ignore: list[str], progress: Progress | None = None
) -> dict[str, int]:
    """Walk `root` once, streaming: memory stays flat whether it holds a hundred files or a million."""
    conn = store.conn
    expected = files.count_under(conn, str(root), os.sep)
    seen = SeenPaths(conn)
    index = submitted = missing = 0
    try:
        for path, info in walk_images(root, recursive, ignore):
            seen.add(path)
            photo = kind_of(Path(path), ignore) == "image"  # a sidecar (.xmp) goes with its photo: not counted
            index += photo
            if files.known_stat(conn, path) != FileStat(info.st_size, info.st_mtime_ns, info.st_ino):
                intake.wait_for_room()
                intake.submit(path, str(root))
                submitted += photo
            if progress and photo and index % 200 == 0:
                progress(index, max(expected, index))
        after = ""
        while page := seen.unseen_under(str(root), os.sep, after):
            after = page[-1]
            missing += files.mark_missing(
                conn, [path for path in page if recursive or os.path.dirname(path) == str(root)]
            )
    finally:
        seen.close()
    if progress:
        progress(index, index)
    return {"seen": index, "submitted": submitted, "missing": missing}
