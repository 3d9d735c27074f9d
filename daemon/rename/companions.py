"""Files that travel with a photo: sidecars (`photo.xmp`, `photo.aae`, `photo.jpg.xmp`, `photo.jpg.json`) and
other images with the same stem in the same folder (RAW + JPEG), found on disk and named after the photo's new stem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from daemon.rename.values import extension_of
from daemon.watch.filters import COMPANION_SUFFIXES, IMAGE_SUFFIXES, is_ignored


@dataclass
class Group:
    """What sits beside `photo` in its folder under the same stem (case-insensitive)."""

    sidecars: list[Path] = field(default_factory=list)  # belong to `photo` (stem-wide or photo.jpg.xmp)
    images: list[Path] = field(default_factory=list)  # other formats of the same shot (RAW + JPEG)
    image_sidecars: dict[Path, list[Path]] = field(default_factory=dict)  # photo.cr2.xmp under photo.cr2


def find_group(photo: Path, ignore: list[str] | tuple[str, ...] = ()) -> Group:
    group = Group()
    stem, name = photo.stem.lower(), photo.name.lower()
    try:
        entries = list(os.scandir(photo.parent))
    except OSError:
        return group
    by_lower: dict[str, Path] = {}
    later: list[tuple[str, Path]] = []
    for entry in entries:
        lower = entry.name.lower()
        if lower == name or not lower.startswith(stem + ".") or is_ignored(Path(entry.name), ignore):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        rest = lower[len(stem) + 1 :]
        path = Path(entry.path)
        if "." not in rest and "." + rest in COMPANION_SUFFIXES:
            group.sidecars.append(path)
        elif "." not in rest and "." + rest in IMAGE_SUFFIXES:
            group.images.append(path)
            by_lower[rest] = path
        elif "." in rest:
            later.append((rest, path))
    for rest, path in later:
        image_ext, _, sidecar_ext = rest.rpartition(".")
        if "." + sidecar_ext not in COMPANION_SUFFIXES:
            continue
        if image_ext == photo.suffix[1:].lower():
            group.sidecars.append(path)
        elif image_ext in by_lower:
            group.image_sidecars.setdefault(by_lower[image_ext], []).append(path)
    group.sidecars.sort()
    group.images.sort()
    return group


def companion_name(companion: Path, photo: Path, new_photo_name: str, jpeg_as_jpg: bool) -> str:
    """The new name of a sidecar or same-stem image once `photo` is called `new_photo_name`."""
    new_stem = Path(new_photo_name).stem
    lower = companion.name.lower()
    if lower.startswith(photo.name.lower() + "."):
        return new_photo_name + lower[len(photo.name) :]
    rest = companion.name[len(photo.stem) + 1 :]
    image_ext, dot, sidecar_ext = rest.rpartition(".")
    if dot and "." + image_ext.lower() in IMAGE_SUFFIXES:
        return f"{new_stem}.{extension_of('x.' + image_ext, jpeg_as_jpg)}.{sidecar_ext.lower()}"
    return f"{new_stem}.{extension_of(companion, jpeg_as_jpg)}"
