"""Where a photo's metadata goes (the file itself or an XMP sidecar), and checks before any byte is written.

RAW and formats exiftool cannot write get a sidecar; so do read-only files when `sidecar_for_readonly`.
"""

from __future__ import annotations

import logging
import mmap
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from daemon.errors import PermanentError, RetryableError
from daemon.metadata.plan import Plan
from daemon.tools.exiftool import Command, temp_file_of

log = logging.getLogger("image_engine.metadata")

# Formats exiftool rewrites in place (checked on exiftool 12.57); everything else gets a sidecar.
IN_PLACE = frozenset({".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png", ".webp", ".gif", ".heic", ".heif", ".avif"})
IPTC_TYPES = frozenset({"JPEG", "TIFF"})  # exiftool FileType values where IPTC is standard (elsewhere XMP only)
STALE_TEMP_SECONDS = 120.0
# A temp file older than this process was left by an exiftool that died with an earlier engine (kill -9, power cut):
# our own exiftool's temp files are removed when it dies, so such a file is stale however young it is.
PROCESS_STARTED = time.time()


@dataclass
class Target:
    photo: Path
    path: Path  # the file written: the photo, or its sidecar
    sidecar: bool
    exists: bool  # False: a new sidecar is created
    reads: list[Path] = field(default_factory=list)  # files whose metadata is merged (the photo, its sidecars)
    why: str = ""


def sidecar_names(photo: Path, naming: str) -> list[Path]:
    """Both conventions, the configured one first: photo.xmp (Lightroom) and photo.cr2.xmp (digiKam, darktable)."""
    basename, fullname = photo.with_suffix(".xmp"), photo.with_name(photo.name + ".xmp")
    return [basename, fullname] if naming == "basename" else [fullname, basename]


def _writable(path: Path, folder: bool = False) -> bool:
    """Honours the permission bits even for root: a file the user made read-only stays untouched."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    access = os.W_OK | (os.X_OK if folder else 0)
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, access)


def choose(photo: Path, naming: str, sidecar_for_readonly: bool) -> Target:
    """Decide where to write, or raise PermanentError saying why nothing can be written."""
    try:
        info = os.lstat(photo)
    except FileNotFoundError:
        raise PermanentError(f"{photo} is gone: nothing written") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise PermanentError(f"{photo} is not a regular file (a link?): metadata is only written into regular files")
    folder = photo.parent
    why = ""
    if photo.suffix.lower() not in IN_PLACE:
        why = f"exiftool cannot rewrite {photo.suffix or 'extension-less'} files in place"
    elif not _writable(photo) or not _writable(folder, folder=True):
        where = "file" if not _writable(photo) else "folder"
        if not sidecar_for_readonly:
            raise PermanentError(
                f"{photo} is in a read-only {where} and [metadata] sidecar_for_readonly = false: nothing written"
            )
        why = f"the {where} is read-only"
    if not why:
        return Target(photo, photo, sidecar=False, exists=True, reads=[photo])
    return sidecar_of(photo, naming, why)


def sidecar_of(photo: Path, naming: str, why: str) -> Target:
    """The photo's XMP sidecar (an existing one, else a new one by `naming`) as the target, `why` said."""
    folder = photo.parent
    candidates = sidecar_names(photo, naming)
    existing = [c for c in candidates if c.exists()]
    sidecar = existing[0] if existing else candidates[0]
    if not _writable(folder, folder=True):
        raise PermanentError(f"{photo}: {why}, and its folder is read-only too, so no sidecar can be written")
    if existing and (not sidecar.is_file() or not _writable(sidecar)):
        raise PermanentError(f"{photo}: {why}, and its sidecar {sidecar.name} is read-only or not a file")
    return Target(photo, sidecar, sidecar=True, exists=bool(existing), reads=[photo, *existing], why=why)


def clear_stale_temp(target: Path, now: float | None = None) -> None:
    """exiftool refuses to write while NAME_exiftool_tmp exists: remove one a crash left, wait for a live one."""
    temp = temp_file_of(target)
    try:
        modified = temp.stat().st_mtime
    except FileNotFoundError:
        return
    if (time.time() if now is None else now) - modified < STALE_TEMP_SECONDS and modified >= PROCESS_STARTED:
        raise RetryableError(f"another program (exiftool) is writing {target.name} right now ({temp.name} exists)")
    temp.unlink(missing_ok=True)
    log.warning("stale exiftool temp file removed", extra={"event": "stale_temp", "path": str(temp)})


def jpeg_damage(path: Path) -> str | None:
    """Why a JPEG is cut short or has no image data, or None. exiftool happily writes into truncated files."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 4:
            return "is empty or too short to be a JPEG"
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:2] != b"\xff\xd8":
                return "does not start like a JPEG"
            position = 2
            while position + 4 <= size:
                if data[position] != 0xFF:
                    return f"has a broken segment structure at byte {position}"
                marker = data[position + 1]
                if marker == 0xFF:
                    position += 1
                    continue
                if marker in (0x01, *range(0xD0, 0xD8)):
                    position += 2
                    continue
                length = int.from_bytes(data[position + 2 : position + 4], "big")
                if marker == 0xDA:
                    if data.rfind(b"\xff\xd9", position + 2 + length) < 0:  # from the end: found at once
                        return "is truncated: its image data ends without an end-of-image marker"
                    return None
                position += 2 + length
            return "is truncated: it ends before its image data"


# Splits a list tag's values in one assignment; clean_text and clean_existing remove control characters from every
# value, so it never occurs inside one.
LIST_SEPARATOR = "\x1f"


def escape(value: str) -> str:
    """C-style escapes for exiftool's -ec: values may hold line breaks, which the argument stream cannot."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def exiftool_command(plan: Plan, target: Target, keep_mtime: bool, backups: bool) -> Command:
    args: list[str | bytes] = ["-ec"]
    if not backups:
        args.append("-overwrite_original")
    if keep_mtime and not target.sidecar:
        args.append("-P")
    if plan.iptc_to_utf8:
        args += ["-tagsFromFile", "@", "-IPTC:all"]  # exiftool re-encodes the file's Latin-1 IPTC as UTF-8
    # One assignment per tag (its values joined): exiftool's cost grows with the assignments, not the values.
    every = [*plan.writes.values(), *plan.removes.values(), *plan.appends.values()]
    joined = not any(LIST_SEPARATOR in value for values in every for value in values)
    if joined:
        args += ["-sep", LIST_SEPARATOR]
    for tag, values in plan.writes.items():
        if joined or not values:
            args.append(f"-{tag}={LIST_SEPARATOR.join(escape(value) for value in values)}")
        else:
            args += [f"-{tag}={escape(value)}" for value in values]
    for tag, values in plan.removes.items():  # taken out of a list: only an exact match of what the engine wrote
        args += [f"-{tag}-={escape(value)}" for value in values]
    for tag, values in plan.appends.items():  # added to a list (MWG regions): what other tools wrote stays
        args += [f"-{tag}+={escape(value)}" for value in values]
    path = os.fsencode(os.path.abspath(target.path))
    args += [path] if target.exists else ["-o", path]
    return Command(args, target=target.path, creates=not target.exists)
