"""Keeps the original of a file being rewritten until the write is verified, and puts it back if not.

exiftool replaces a file by renaming a new one over it, so a hard link to the original costs nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger("image_engine.metadata")
SCRATCH = "metadata-guard"  # the folder of kept originals, under the engine's cache folder


class Guard:
    def __init__(self, target: Path, scratch: Path):
        self.target = target
        self.scratch = scratch
        self.kept: Path | None = None
        self.created = False
        self.backup_existed = False
        self.mtime_ns: int | None = None

    def protect(self) -> Guard:
        """Hard-link the original (in the scratch folder, else beside it); copy it where links are impossible."""
        self.backup_existed = self.backup.exists()
        if not self.target.exists():
            self.created = True
            return self
        self.mtime_ns = os.stat(self.target).st_mtime_ns
        self.scratch.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex[:12]}-{self.target.name}"
        for place in (self.scratch / name, self.target.with_name(f".{self.target.name}.image-engine-guard")):
            try:
                place.unlink(missing_ok=True)
                os.link(self.target, place)
                self.kept = place
                return self
            except OSError:
                continue
        self.kept = self.scratch / name
        shutil.copy2(self.target, self.kept)
        return self

    @property
    def backup(self) -> Path:
        return self.target.with_name(self.target.name + "_original")

    def restore(self) -> None:
        """Put the original back byte for byte (a new sidecar is removed); exiftool's own backup too."""
        try:
            if self.created:
                self.target.unlink(missing_ok=True)
            elif self.kept is not None and _same_file(self.kept, self.target):
                self.kept.unlink()  # nothing replaced the original (the write failed): just drop the link
                self.kept = None
            elif self.kept is not None:
                try:
                    os.replace(self.kept, self.target)
                except OSError:  # the copy lives on another filesystem: bring it over, then rename
                    beside = self.target.with_name(f".{self.target.name}.image-engine-restore")
                    shutil.copy2(self.kept, beside)
                    os.replace(beside, self.target)
                    self.kept.unlink(missing_ok=True)
                self.kept = None
            if not self.backup_existed:
                self.backup.unlink(missing_ok=True)
        except OSError as exc:
            log.error(
                "could not restore the original",
                extra={"event": "restore_failed", "path": str(self.target), "error": f"{exc}; kept at {self.kept}"},
            )
            raise

    def release(self) -> None:
        if self.kept is not None:
            self.kept.unlink(missing_ok=True)
            self.kept = None


def clear_leftovers(scratch: Path) -> int:
    """Remove the originals kept by writes a killed engine never finished; call only while no write runs (start-up).

    Nothing needs them: exiftool renames its new file over the photo, so the photo was replaced whole or not at all,
    and the job's next run reads what is there. Left alone, every kill during a write kept one more copy for good."""
    removed = 0
    for leftover in scratch.glob("*") if scratch.is_dir() else ():
        try:
            leftover.unlink()
            removed += 1
        except OSError as exc:
            log.warning(
                "cannot remove a kept original",
                extra={"event": "guard_leftover", "path": str(leftover), "error": str(exc)},
            )
    if removed:
        log.info("kept originals of interrupted writes removed", extra={"event": "guard_cleared", "detail": removed})
    return removed


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
