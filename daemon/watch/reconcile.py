"""Reconcile a watched root with the store: find files added, changed or removed while nobody watched.

Unchanged files (same size, mtime and inode) cost one stat; only the rest reach the settle step.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
from collections.abc import Callable, Iterator
from pathlib import Path

from daemon.store import Store, files
from daemon.store.queue import FileStat
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
    known = dict(files.known_under(store.conn, str(root), os.sep))
    on_disk = list(walk_images(root, recursive, ignore))
    total = len(on_disk)
    seen: set[str] = set()
    submitted = 0
    for index, (path, info) in enumerate(on_disk, 1):
        seen.add(path)
        current = FileStat(info.st_size, info.st_mtime_ns, info.st_ino)
        if known.get(path) != current:
            intake.submit(path, str(root))
            submitted += 1
        if progress and (index % 200 == 0 or index == total):
            progress(index, total)
    if not recursive:
        known = {p: s for p, s in known.items() if os.path.dirname(p) == str(root)}
    missing = [path for path in known if path not in seen]
    files.mark_missing(store.conn, missing)
    if progress and total == 0:
        progress(0, 0)
    return {"seen": total, "submitted": submitted, "missing": len(missing)}
