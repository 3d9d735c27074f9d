"""Face regions as other programs store them: MWG (digiKam, Lightroom, Picasa-style) and Microsoft Photo (MP).

Read: exiftool's structured JSON -> (name, box in the oriented image's pixels). Write: one MWG region per named face,
centre and size normalised to the oriented image, as exiftool's structure syntax.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.tools.exiftool import Command

MWG = "XMP-mwg-rs:RegionInfo"
MWG_LIST = "XMP-mwg-rs:RegionList"  # appended to (+=): the regions other tools wrote stay as they are
MWG_NAMES = "XMP-mwg-rs:RegionName"
MWG_WIDTH = "XMP-mwg-rs:RegionAppliedToDimensionsW"
MWG_HEIGHT = "XMP-mwg-rs:RegionAppliedToDimensionsH"
MWG_UNIT = "XMP-mwg-rs:RegionAppliedToDimensionsUnit"
PERSON_IN_IMAGE = "XMP-iptcExt:PersonInImage"
READ_TAGS = (MWG_NAMES, MWG_WIDTH, PERSON_IN_IMAGE)


@dataclass(frozen=True)
class Region:
    name: str
    box: tuple[float, float, float, float]  # x, y, w, h in the oriented image's pixels


def read_command(path: Path) -> Command:
    return Command(["-j", "-struct", "-XMP-mwg-rs:RegionInfo", "-XMP-MP:RegionInfoMP", os.fsencode(path)])


def sources(photo: Path) -> list[Path]:
    """The photo and its XMP sidecars (photo.xmp, photo.jpg.xmp: digiKam and Lightroom keep regions of RAW files
    there), those that exist."""
    sidecars = [photo.with_suffix(suffix) for suffix in (".xmp", ".XMP")]
    sidecars += [photo.with_name(photo.name + suffix) for suffix in (".xmp", ".XMP")]
    return [photo, *dict.fromkeys(p for p in sidecars if p.is_file())]


def parse(output: str, size: tuple[int, int]) -> list[Region]:
    """Named face regions in exiftool's `-j -struct` output; boxes scaled to `size` (the oriented width, height)."""
    try:
        data = json.loads(output)[0]
    except (ValueError, IndexError, TypeError):
        return []
    width, height = size
    found: list[Region] = []
    info = data.get("RegionInfo")
    for region in (info or {}).get("RegionList") or [] if isinstance(info, dict) else []:
        area, name = region.get("Area") or {}, _text(region.get("Name"))
        if not name or str(region.get("Type") or "Face").lower() != "face":
            continue
        try:
            cx, cy, w, h = (float(area[key]) for key in ("X", "Y", "W", "H"))
        except (KeyError, TypeError, ValueError):
            continue
        if str(area.get("Unit") or "normalized").lower() == "normalized":
            found.append(Region(name, ((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height)))
    microsoft = data.get("RegionInfoMP")
    for region in (microsoft or {}).get("Regions") or [] if isinstance(microsoft, dict) else []:
        name = _text(region.get("PersonDisplayName"))
        try:
            x, y, w, h = (float(part) for part in str(region.get("Rectangle") or "").split(","))
        except ValueError:
            continue
        if name and all(f.name.casefold() != name.casefold() for f in found):
            found.append(Region(name, (x * width, y * height, w * width, h * height)))
    return found


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def struct_value(name: str, box: list[float], size: list[int]) -> str:
    """One MWG face region in exiftool's structure syntax (centre and size normalised to the oriented image)."""
    x, y, w, h = box
    width, height = size
    area = {"X": (x + w / 2) / width, "Y": (y + h / 2) / height, "W": w / width, "H": h / height}
    numbers = ",".join(f"{key}={min(1.0, max(0.0, value)):.5f}" for key, value in area.items())
    return f"{{Area={{{numbers},Unit=normalized}},Type=Face,Name={_escape(name)}}}"


def _escape(value: str) -> str:
    """exiftool structure syntax: '|' escapes the characters that would end the value."""
    escaped = "".join(f"|{ch}" if ch in ",]}|" else ch for ch in value)
    return f"|{escaped}" if escaped[:1].isspace() else escaped
