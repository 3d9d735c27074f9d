"""The folders the engine watches: every [[watch]] folder, and the library itself.

Edits and deletions inside the library then reach the store like any other change; the engine's own writes there
(filing, metadata) are recognised by the stat the store recorded for them and do not start new work.
"""

from __future__ import annotations

from pathlib import Path

from daemon.config import Config, WatchConfig


def watched_folders(config: Config) -> list[WatchConfig]:
    """The [[watch]] folders, plus [library] root when `[library] watch` is on and no [[watch]] folder holds it."""
    folders = list(config.watch)
    root = config.library.root
    if config.library.watch and not any(_inside(root, watch.path) for watch in config.watch):
        # "in-place" only describes the watch here: the planner never files or renames photos already in the library.
        folders.append(WatchConfig(path=root, recursive=True, mode="in-place"))
    return folders


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())
