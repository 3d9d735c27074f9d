"""Named people in the metadata plan: `People|Name` in the keyword tree (and Name as a flat keyword when asked),
XMP-iptcExt:PersonInImage, and one MWG face region per named face; what the file already says is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daemon.people.regions import (
    MWG_HEIGHT,
    MWG_LIST,
    MWG_NAMES,
    MWG_UNIT,
    MWG_WIDTH,
    PERSON_IN_IMAGE,
    struct_value,
)

ROOT = "People"
READ_TAGS = (MWG_NAMES, MWG_WIDTH, MWG_HEIGHT, PERSON_IN_IMAGE)


@dataclass
class NamedFaces:
    """The `people` pseudo-result of a file: its named faces (box in the oriented image's pixels) and that size."""

    faces: list[dict[str, Any]] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)  # names this photo had and has no more (renamed, removed)
    withdrawn_regions: list[dict[str, Any]] = field(default_factory=list)  # their faces: name, box, size

    @classmethod
    def from_result(cls, result: dict[str, Any] | None) -> NamedFaces:
        result = result or {}
        faces = [f for f in result.get("faces") or [] if str(f.get("name") or "").strip()]
        withdrawn = [str(n) for n in result.get("withdrawn") or [] if n]
        return cls(faces, list(result.get("size") or []), withdrawn, list(result.get("withdrawn_regions") or []))

    @property
    def names(self) -> list[str]:
        seen: dict[str, str] = {}
        for face in self.faces:
            name = " ".join(str(face["name"]).split())
            seen.setdefault(name.casefold(), name)
        return list(seen.values())


def people_paths(people: NamedFaces) -> dict[str, str]:
    """`People|Name` for each name: outside the engine's own root, where digiKam and Lightroom keep people."""
    return {f"{ROOT}|{name}".casefold(): f"{ROOT}|{name.replace('|', '/')}" for name in people.names}


def person_in_image(existing: dict[str, list[str]], people: NamedFaces) -> list[str] | None:
    """The file's PersonInImage plus the names it lacks; None when nothing is missing."""
    gone = {name.casefold() for name in people.withdrawn}
    current = existing.get(PERSON_IN_IMAGE, [])
    kept = [value for value in current if value.casefold() not in gone]
    have = {value.casefold() for value in kept}
    missing = [name for name in people.names if name.casefold() not in have]
    return [*kept, *missing] if missing or len(kept) != len(current) else None


def region_writes(existing: dict[str, list[str]], people: NamedFaces) -> tuple[dict[str, list[str]], list[str]]:
    """(flattened tags to set, regions to append) for the named faces the file has no region of yet.

    Regions other tools wrote are never rewritten: new ones are appended to the list (exiftool `+=`)."""
    if len(people.size) != 2 or min(people.size) <= 0:
        return {}, []
    have = {value.casefold() for value in existing.get(MWG_NAMES, [])}
    appends: list[str] = []
    for face in people.faces:
        name = " ".join(str(face["name"]).split())
        if name.casefold() in have:
            continue
        have.add(name.casefold())
        appends.append(struct_value(name, face["box"], people.size))
    writes: dict[str, list[str]] = {}
    if appends and not existing.get(MWG_WIDTH):
        writes = {MWG_WIDTH: [str(people.size[0])], MWG_HEIGHT: [str(people.size[1])], MWG_UNIT: ["pixel"]}
    return writes, appends


def region_removals(people: NamedFaces) -> list[str]:
    """The regions the engine wrote for faces that lost their name, exactly as written (exiftool `-=` matches the
    whole structure, so a region another program wrote is never among them)."""
    removals = []
    for face in people.withdrawn_regions:
        size = face.get("size") or people.size
        if face.get("name") and len(size) == 2 and min(size) > 0:
            removals.append(struct_value(" ".join(str(face["name"]).split()), face["box"], size))
    return list(dict.fromkeys(removals))


APPEND_TAG = MWG_LIST
