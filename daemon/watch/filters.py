"""Which paths are photos to process, which are companions of a photo, and which are ignored.

Temp and partial downloads, dot-files, Office lock files and the engine's own exiftool temp files are ignored.
"""

from __future__ import annotations

import fnmatch
import functools
import os
from pathlib import PurePath

from daemon.pipeline.imaging import SUPPORTED_SUFFIXES

RAW_SUFFIXES = frozenset(
    {
        ".dng",
        ".cr2",
        ".cr3",
        ".crw",
        ".nef",
        ".nrw",
        ".arw",
        ".srf",
        ".sr2",
        ".orf",
        ".rw2",
        ".raf",
        ".pef",
        ".srw",
        ".x3f",
        ".3fr",
        ".erf",
        ".kdc",
        ".mrw",
        ".iiq",
        ".rwl",
    }
)
IMAGE_SUFFIXES = SUPPORTED_SUFFIXES | RAW_SUFFIXES
COMPANION_SUFFIXES = frozenset({".xmp", ".aae", ".json", ".mov", ".mp4", ".thm"})
TEMP_SUFFIXES = frozenset({".part", ".crdownload", ".tmp", ".temp", ".partial", ".download", ".!qb", ".swp"})


def is_ignored(path: PurePath | str, patterns: list[str] | tuple[str, ...] = ()) -> bool:
    folder, name = _split(path)
    return _name_ignored(name, _suffix(name), patterns) or _folder_ignored(folder)


def kind_of(path: PurePath | str, patterns: list[str] | tuple[str, ...] = ()) -> str | None:
    """'image' (gets a job), 'companion' (moves with its photo), or None (ignored). Works on the string: the
    intake classifies every file of a 100,000-file copy (a PurePath each cost more than queuing the file)."""
    folder, name = _split(path)
    suffix = _suffix(name)
    if _name_ignored(name, suffix, patterns) or _folder_ignored(folder):
        return None
    suffix = suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in COMPANION_SUFFIXES:
        return "companion"
    return None


def group_key(path: PurePath | str) -> tuple[str, str]:
    """Files with one stem in one folder form a group (RAW + JPEG + .xmp, Live Photo .mov)."""
    folder, name = os.path.split(path)
    stem = name.split(".", 1)[0].lower()
    return folder, stem


def _split(path: PurePath | str) -> tuple[str, str]:
    folder, name = os.path.split(path)
    if not name:  # a path that ends in a separator: PurePath knows its name
        return str(PurePath(path).parent), PurePath(path).name
    return folder, name


def _name_ignored(name: str, suffix: str, patterns: list[str] | tuple[str, ...]) -> bool:
    if not name or name.startswith((".", "~$")):
        return True
    if "_exiftool_tmp" in name or name.endswith("_original"):
        return True
    if suffix.lower() in TEMP_SUFFIXES:
        return True
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _suffix(name: str) -> str:
    """PurePath.suffix of a file name."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


@functools.lru_cache(maxsize=4096)
def _folder_ignored(folder: str) -> bool:
    """A dot-folder anywhere above: the files of one folder arrive together, so this is asked once per folder."""
    return any(part.startswith(".") for part in PurePath(folder).parts if part not in (".", ".."))
