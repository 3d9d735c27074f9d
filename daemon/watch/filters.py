"""Which paths are photos to process, which are companions of a photo, and which are ignored.

Temp and partial downloads, dot-files, Office lock files and the engine's own exiftool temp files are ignored.
"""

from __future__ import annotations

import fnmatch
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


def is_ignored(path: PurePath, patterns: list[str] | tuple[str, ...] = ()) -> bool:
    name = path.name
    if not name or name.startswith(".") or name.startswith("~$"):
        return True
    if "_exiftool_tmp" in name or name.endswith("_original"):
        return True
    if path.suffix.lower() in TEMP_SUFFIXES:
        return True
    if any(part.startswith(".") for part in path.parts[:-1] if part not in (".", "..")):
        return True
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def kind_of(path: PurePath, patterns: list[str] | tuple[str, ...] = ()) -> str | None:
    """'image' (gets a job), 'companion' (moves with its photo), or None (ignored)."""
    if is_ignored(path, patterns):
        return None
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in COMPANION_SUFFIXES:
        return "companion"
    return None


def group_key(path: PurePath) -> tuple[str, str]:
    """Files with one stem in one folder form a group (RAW + JPEG + .xmp, Live Photo .mov)."""
    stem = path.name.split(".", 1)[0].lower()
    return str(path.parent), stem
