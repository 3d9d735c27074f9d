"""Where one file goes: the folder rules (drop, in-place, duplicates), the template, collisions and companions.

It looks at the disk and the store but moves nothing; the rename stage executes (or, in dry run, records) it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.config import Config, WatchConfig
from daemon.errors import PermanentError, WaitingError
from daemon.rename.companions import companion_name, find_group
from daemon.rename.mover import same_content
from daemon.rename.safety import MAX_FILED_NAME_BYTES, PathEscapeError, inside, legal_name
from daemon.rename.template import Template, parse_template
from daemon.rename.values import extension_of
from daemon.store import rename

MAX_COUNTER = 9999
ARRIVING_SECONDS = 10.0  # a same-stem file unknown to the store and this fresh may still be arriving


@dataclass
class Decision:
    src: Path
    dest: Path
    move: bool
    reason: str
    companions: list[tuple[Path, Path]] = field(default_factory=list)
    partners: list[Path] = field(default_factory=list)
    delete_as_copy_of: Path | None = None  # [rename] duplicates = "delete": the identical file that stays

    def result(self, **extra: Any) -> dict[str, Any]:
        return {
            "from": str(self.src),
            "to": str(self.dest),
            "moved": False,
            "planned": False,
            "reason": self.reason,
            "companions": [[str(s), str(d)] for s, d in self.companions],
            **extra,
        }


def keep(src: Path, reason: str) -> Decision:
    return Decision(src, src, False, reason)


class Planner:
    def __init__(self, config: Config, earlier_stages: list[str]):
        self.config = config
        self.settings = config.rename
        self.template: Template = parse_template(config.rename.template)
        self.earlier = earlier_stages
        self.library = config.library.root

    def watch_of(self, path: Path) -> WatchConfig | None:
        return watch_of(self.config, path)

    def root_of(self, path: Path) -> str:
        return root_of(self.config, path)

    def decide(
        self, conn: sqlite3.Connection, src: Path, values: dict[str, Any], dedup: dict[str, Any], private: bool = False
    ) -> Decision:
        """`private`: sensitive content with `[sensitive] action = "separate"`: filed under the private folder."""
        arriving = (watch := self.watch_of(src)) is not None and watch.mode == "drop"
        handling = self.settings.duplicates if arriving else "leave"  # photos already in place are never touched
        if dedup.get("skip_filing"):
            original = dedup.get("duplicate_of")
            why = f"exact duplicate of {original}" if original else (dedup.get("reason") or "a duplicate")
            if handling == "delete" and original and dedup.get("kind") == "exact":
                return Decision(src, src, False, f"deleted: {why}", delete_as_copy_of=Path(original))
            if handling == "delete":
                return keep(src, f"not filed: {why}; left where it is (not byte-identical to a filed photo)")
            if handling == "leave":
                return keep(src, f'not filed: {why}; left where it is ([rename] duplicates = "leave")')
        name_only = False
        if dedup.get("move_to_duplicates") or (dedup.get("skip_filing") and handling == "move"):
            folder = [legal_name(part) for part in Path(self.config.dedup.folder).parts if part not in ("/", "\\")]
            base, reason = inside(self.library, folder or ["Duplicates"]), "duplicate filed under the duplicates folder"
            if not dedup.get("move_to_duplicates"):
                reason = f"{why}: filed under the duplicates folder"
        elif watch is not None and watch.mode == "drop" and private:
            folder = [legal_name(part) for part in Path(self.config.sensitive.folder).parts if part not in ("/", "\\")]
            base, reason = (
                inside(self.library, folder or ["Private"]),
                "sensitive content: filed under the private folder",
            )
        elif watch is not None and watch.mode == "drop":
            base, reason = self.library, "filed into the library by the template"
        elif watch is not None:
            if not self.settings.in_place:
                return keep(src, "kept in place (in-place folder; set [rename] in_place = true to rename files there)")
            base, reason, name_only = src.parent, "renamed in place by the template", True
        else:
            return keep(src, "kept: not in a watched folder (already in the library)")
        companions, partners = self.companions_of(conn, src)
        earlier = rename.partner_decision(conn, str(src))
        if earlier is not None:
            decided = self.follow_partner(conn, src, Path(earlier), base, companions)
            if decided is not None:
                decided.partners = partners
                return decided
        folder: Path | None = None
        for counter in range(MAX_COUNTER + 1):
            parts = self.template.render(values, counter, self.settings.placeholder, name_only=name_only)
            try:  # the counter changes only the name: the folder is checked (symlinks resolved) once
                folder = folder or inside(base, parts[:-1])
                dest = inside(folder, parts[-1:], resolve=False)
            except PathEscapeError as exc:
                raise PermanentError(f"not filed: the template's path is unsafe ({exc})") from None
            decision = self.try_target(conn, src, dest, companions, reason, values.get("hash"))
            if decision is not None:
                decision.partners = partners
                return decision
        raise PermanentError(f"not filed: no free name after {MAX_COUNTER} numbered tries under {base}")

    def try_target(
        self,
        conn: sqlite3.Connection,
        src: Path,
        dest: Path,
        companions: list[Path],
        reason: str,
        sha256: str | None = None,
    ) -> Decision | None:
        """A decision for `dest`, or None when it (or a companion's new name) is taken by another file."""
        if dest == src:
            return keep(src, "kept: already named as the template says")
        if self.occupied(conn, dest):
            if os.path.lexists(dest) and same_content(src, dest, sha256):
                return keep(src, f"not filed: an identical file is already at {dest}; not filed twice")
            return None
        pairs = [(c, dest.parent / companion_name(c, src, dest.name, self.settings.jpeg_as_jpg)) for c in companions]
        if any(self.occupied(conn, target) for _, target in pairs):
            return None
        return Decision(src, dest, True, reason, pairs)

    def follow_partner(
        self, conn: sqlite3.Connection, src: Path, partner_dest: Path, base: Path, companions: list[Path]
    ) -> Decision | None:
        """The same shot in another format was filed already: take its new stem, next to it."""
        extension = extension_of(src, self.settings.jpeg_as_jpg)
        name = f"{partner_dest.stem}.{extension}"
        try:
            dest = inside(partner_dest.parent, [legal_name(name, len(extension) + 1, max_bytes=MAX_FILED_NAME_BYTES)])
            inside(base, list(dest.relative_to(base).parts))
        except (PathEscapeError, ValueError):
            return None
        return self.try_target(conn, src, dest, companions, "filed beside the same shot in another format")

    def occupied(self, conn: sqlite3.Connection, path: Path) -> bool:
        return os.path.lexists(path) or rename.path_taken(conn, str(path))

    def companions_of(self, conn: sqlite3.Connection, src: Path) -> tuple[list[Path], list[Path]]:
        """(files that move with `src`, same-stem images that file themselves later under the same stem).

        A same-stem image still on its way to this stage makes this file wait, so the pair is filed together;
        one whose job failed before rename (an unreadable RAW) or that the store does not know moves along.
        """
        group = find_group(src, self.config.engine.ignore)
        companions: list[Path] = list(group.sidecars)
        partners: list[Path] = []
        for image in group.images:
            position = rename.job_position(conn, str(image), self.earlier)
            if position == "earlier" or (position is None and _fresh(image)):
                raise WaitingError(
                    f"waiting for {image.name} (the same shot in another format) so both are filed together", 2.0
                )
            if position == "rename":
                partners.append(image)
            elif position in (None, "failed-early"):
                companions.append(image)
                companions.extend(group.image_sidecars.get(image, []))
        return companions, partners


def watch_of(config: Config, path: Path) -> WatchConfig | None:
    """The watched folder holding `path` (the innermost, when folders nest)."""
    best: WatchConfig | None = None
    for watch in config.watch:
        if path.is_relative_to(watch.path) and (best is None or len(watch.path.parts) > len(best.path.parts)):
            best = watch
    return best


def root_of(config: Config, path: Path) -> str:
    """The root recorded for a file at `path`: its watched folder, else the library."""
    watch = watch_of(config, path)
    return str(watch.path) if watch else str(config.library.root)


def _fresh(path: Path) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return time.time() - max(info.st_mtime, info.st_ctime) < ARRIVING_SECONDS
