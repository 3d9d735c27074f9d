"""Read only the EXIF tags `exif.read_facts` uses, straight from a JPEG's Exif block, without unpacking the rest.

Pillow's `get_ifd` unpacks every tag of the Exif IFD (maker notes included): 0.7 ms a photo, more than the
perceptual hashes and the SHA-256 together. Anything unusual returns None and the caller uses Pillow, so the facts
are always the ones Pillow would give.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from PIL import Image

ASCII, SHORT, LONG, RATIONAL, IFD = 2, 3, 4, 5, 13
EXIF_POINTER, GPS_POINTER, ORIENTATION = 0x8769, 0x8825, 0x0112
IFD0_TEXT = frozenset({0x010F, 0x0110, 0x0132})  # Make, Model, ModifyDate
# DateTimeOriginal, CreateDate, OffsetTime, OffsetTimeOriginal, LensMake, LensModel
EXIF_TEXT = frozenset({0x9003, 0x9004, 0x9010, 0x9011, 0xA433, 0xA434})
GPS_TEXT = frozenset({1, 3, 0x1D})  # LatitudeRef, LongitudeRef, DateStamp
GPS_TRIPLES = frozenset({2, 4, 7})  # Latitude, Longitude, TimeStamp
WANTED_IFDS = {EXIF_POINTER: EXIF_TEXT, GPS_POINTER: GPS_TEXT | GPS_TRIPLES}
SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


class Unusual(Exception):
    """The block is not the plain case this reader handles: Pillow reads it instead."""


class Tags(dict):
    """The tags of one IFD this reader reads. Asking for any other is a programming error, said loudly: a tag
    read_facts starts to use must be added here too, or it would silently read as absent."""

    def __init__(self, values: dict[int, Any], wanted: frozenset[int]):
        super().__init__(values)
        self.wanted = wanted

    def get(self, tag: int, default: Any = None) -> Any:  # type: ignore[override]
        if tag not in self.wanted:
            raise LookupError(f"exif_fast does not read tag 0x{tag:04X}: add it to its wanted tags")
        return super().get(tag, default)


class FastExif(Tags):
    """IFD0's wanted tags, with `get_ifd` for the Exif and GPS IFDs: what read_facts asks of a Pillow Exif."""

    def __init__(self, ifd0: dict[int, Any], ifds: dict[int, Tags]):
        super().__init__(ifd0, IFD0_TEXT | {ORIENTATION})
        self.ifds = ifds

    def get_ifd(self, tag: int) -> Tags:
        if tag not in WANTED_IFDS:
            raise LookupError(f"exif_fast does not read IFD 0x{tag:04X}")
        return self.ifds.get(tag) or Tags({}, WANTED_IFDS[tag])


def read(image: Image.Image) -> FastExif | None:
    """The wanted tags of a JPEG's Exif block, or None when Pillow must read it (no block, odd types, odd layout)."""
    block = image.info.get("exif")
    if image.format not in ("JPEG", "MPO") or not isinstance(block, bytes) or not block.startswith(b"Exif\x00\x00"):
        return None
    tiff = block[6:]
    if tiff.startswith(b"Exif\x00\x00"):
        return None  # Pillow strips a doubled prefix; leave that oddity to it
    try:
        return _parse(tiff, image)
    except (Unusual, struct.error, IndexError, UnicodeDecodeError):
        return None


def _parse(tiff: bytes, image: Image.Image) -> FastExif:
    if tiff[:4] == b"II*\x00":
        endian = "<"
    elif tiff[:4] == b"MM\x00*":
        endian = ">"
    else:
        raise Unusual
    (first,) = struct.unpack(endian + "L", tiff[4:8])
    entries = _entries(tiff, endian, first)
    ifd0 = {tag: _value(tiff, endian, tag, entry) for tag, entry in entries.items() if tag in IFD0_TEXT | {ORIENTATION}}
    if ORIENTATION not in ifd0:
        orientation = _xmp_orientation(image)
        if orientation is not None:
            ifd0[ORIENTATION] = orientation
    ifds: dict[int, Tags] = {}
    for pointer, wanted in WANTED_IFDS.items():
        if pointer in entries:
            offset = _pointer(tiff, endian, entries[pointer])
            sub = _entries(tiff, endian, offset)
            values = {tag: _value(tiff, endian, tag, entry) for tag, entry in sub.items() if tag in wanted}
            ifds[pointer] = Tags(values, wanted)
    return FastExif(ifd0, ifds)


def _xmp_orientation(image: Image.Image) -> int | None:
    """Pillow's own rule (Image.getexif) when EXIF has no Orientation: the first tiff:Orientation in the XMP."""
    packet: str | bytes | None = image.info.get("XML:com.adobe.xmp")
    pattern: str | bytes = r'tiff:Orientation(="|>)([0-9])'
    if not packet and (packet := image.info.get("xmp")):
        pattern = rb'tiff:Orientation(="|>)([0-9])'
    if not packet:
        return None
    match = re.search(pattern, packet)  # type: ignore[arg-type]
    return int(match[2]) if match else None


def _entries(tiff: bytes, endian: str, offset: int) -> dict[int, tuple[int, int, bytes]]:
    """tag -> (type, count, the 4-byte value field) for one IFD."""
    if offset < 8 or offset + 2 > len(tiff):
        raise Unusual
    (count,) = struct.unpack(endian + "H", tiff[offset : offset + 2])
    end = offset + 2 + 12 * count
    if end > len(tiff):
        raise Unusual
    entries = {}
    for tag, kind, number, field in struct.iter_unpack(endian + "HHL4s", tiff[offset + 2 : end]):
        if kind not in SIZES or tag in entries:
            raise Unusual  # Pillow skips unknown types and keeps the last of a repeated tag: let it
        entries[tag] = (kind, number, field)
    return entries


def _data(tiff: bytes, endian: str, kind: int, count: int, field: bytes) -> bytes:
    size = SIZES[kind] * count
    if size <= 4:
        return field[:size]
    (offset,) = struct.unpack(endian + "L", field)
    if offset + size > len(tiff):
        raise Unusual  # Pillow warns and drops such a tag
    return tiff[offset : offset + size]


def _pointer(tiff: bytes, endian: str, entry: tuple[int, int, bytes]) -> int:
    kind, count, field = entry
    if kind not in (LONG, IFD) or count != 1:
        raise Unusual
    return int(struct.unpack(endian + "L", field)[0])


def _value(tiff: bytes, endian: str, tag: int, entry: tuple[int, int, bytes]) -> Any:
    """The value as Pillow gives it for these tags: str for ASCII, int for Orientation, a tuple of 3 floats."""
    kind, count, field = entry
    data = _data(tiff, endian, kind, count, field)
    if tag == ORIENTATION:
        if kind != SHORT or count != 1:
            raise Unusual
        return struct.unpack(endian + "H", data)[0]
    if tag in GPS_TRIPLES:
        if kind != RATIONAL or count != 3:
            raise Unusual
        numbers = struct.unpack(endian + "6L", data)
        return tuple(_rational(numbers[i], numbers[i + 1]) for i in range(0, 6, 2))
    if kind != ASCII:
        raise Unusual
    if data.endswith(b"\x00"):
        data = data[:-1]
    return data.decode("latin-1", "replace")


def _rational(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")
