"""The metadata fields the stage plans with, read from a JPEG's header segments in Python (no exiftool pass).

Only answers where it reads exactly what exiftool would (one XMP packet, ASCII or UTF-8 IPTC, ASCII EXIF text);
anything else returns None and the stage asks exiftool. Used before the write (to plan) and after it (to verify).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from daemon.metadata import fallback, tag_names, xmp
from daemon.tools.trailers import has_metadata_trailer

JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe"})
READ_CHUNK = 1 << 16
MAX_HEADER = 16 << 20  # segments before the scan larger than this (huge previews): leave it to exiftool
XP_KEYWORDS_TAG, IMAGE_DESCRIPTION_TAG = 0x9C9E, 0x010E
# XMP fields the plan reads that this reader does not: a packet using their namespace goes to exiftool. A field
# added to READ_TAGS from a group not listed here turns this reader off (every file read by exiftool) until it is.
UNREAD_NAMESPACES = {
    "XMP-mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "XMP-iptcExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}
_UNREAD_GROUPS = {
    tag.split(":")[0] for tag in tag_names.READ_TAGS if tag.startswith("XMP-") and tag not in xmp.PROPERTIES
}
ENABLED = set(UNREAD_NAMESPACES) >= _UNREAD_GROUPS
_URI_VARIANTS = {uri[:-1] if uri.endswith("/") else uri + "/" for uri in xmp.NAMESPACES.values()}
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


class NotSure(Exception):
    """Something exiftool may read differently: the caller reads the file with exiftool instead."""


def read(path: Path) -> dict[str, list[str]] | None:
    """The READ_TAGS fields as exiftool names them (`XMP-dc:Subject` -> values), or None when not sure."""
    if not ENABLED or path.suffix.lower() not in JPEG_SUFFIXES or has_metadata_trailer(path):
        return None  # a trailer (AFCP, FotoStation) may hold a second IPTC block
    try:
        return _read(header_segments(path))
    except (NotSure, OSError, ValueError, struct.error, fallback.FallbackError, xmp.XmpError):
        return None


def header_segments(path: Path) -> list[tuple[int, bytes]]:
    """(marker, payload) of each segment before the scan, reading only the header of the file."""
    data = bytearray()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK)
            data += chunk
            try:
                segments, _ = fallback.split(bytes(data))
                return segments
            except fallback.FallbackError:
                if not chunk or len(data) > MAX_HEADER:
                    raise


def _read(segments: list[tuple[int, bytes]]) -> dict[str, list[str]]:
    packets = fallback._xmp_packets(segments)  # raises on extended XMP
    if len(packets) > 1:
        raise NotSure("several XMP packets")
    meta = xmp.parse(packets[0] if packets else None)
    _check_packet(meta)
    tags = xmp.read(meta)
    tags[tag_names.FILE_TYPE] = ["JPEG"]
    iptc_blocks = [p for m, p in segments if m == fallback.APP13 and p.startswith(fallback.PHOTOSHOP_HEADER)]
    if len(iptc_blocks) > 1:
        raise NotSure("IPTC split over several segments")
    if iptc_blocks:
        tags.update(_iptc(iptc_blocks[0][len(fallback.PHOTOSHOP_HEADER) :]))
    exif_blocks = [p for m, p in segments if m == fallback.APP1 and p.startswith(fallback.EXIF_HEADER)]
    if len(exif_blocks) > 1:
        raise NotSure("several EXIF segments")
    if exif_blocks:
        tags.update(_ifd0_text(exif_blocks[0][len(fallback.EXIF_HEADER) :]))
    return tags


def _check_packet(meta: ElementTree.Element) -> None:
    """xmp.read knows each namespace by one URI (exiftool also reads e.g. Microsoft's without its last slash), and
    trims simple values and drops blank ones (exiftool keeps them as they are)."""
    unread = set(UNREAD_NAMESPACES.values())
    for element in meta.iter():
        for name in (element.tag, *element.attrib):
            uri = name[1:].partition("}")[0] if name.startswith("{") else ""
            if uri in _URI_VARIANTS:
                raise NotSure("a namespace URI spelled another way")
            if uri in unread:
                raise NotSure("fields this reader does not read (face regions, people)")
    names = {xmp._q(prefix, name) for prefix, name, container in xmp.PROPERTIES.values() if container is None}
    for description in meta.iter(xmp._q("rdf", "Description")):
        for key, value in description.attrib.items():
            if key in names and value != value.strip():
                raise NotSure("a value with spaces around it")
        for element in description:
            if element.tag in names and len(element) == 0 and (element.text or "") != (element.text or "").strip():
                raise NotSure("a value with spaces around it")


def _iptc(resources: bytes) -> dict[str, list[str]]:
    """Keywords, caption and charset from the IPTC block; every other dataset only as far as the Latin-1 check
    in the plan needs it (its text, under a name no field uses)."""
    raw = _iptc_block(resources)
    records: list[tuple[int, int, bytes]] = []
    position = 0
    while position < len(raw):
        if raw[position] != 0x1C or position + 5 > len(raw):
            if not raw[position:].strip(b"\x00"):
                break  # padding
            raise NotSure("IPTC structure exiftool may read otherwise")
        record, dataset, size = (
            raw[position + 1],
            raw[position + 2],
            struct.unpack(">H", raw[position + 3 : position + 5])[0],
        )
        if size & 0x8000 or position + 5 + size > len(raw):
            raise NotSure("extended or cut IPTC dataset")
        records.append((record, dataset, raw[position + 5 : position + 5 + size]))
        position += 5 + size
    charsets = [v for r, d, v in records if r == 1 and d == 90]
    if any(charset != b"\x1b%G" for charset in charsets):
        raise NotSure("an IPTC character set other than UTF-8")
    utf8 = bool(charsets)
    tags: dict[str, list[str]] = {tag_names.IPTC_CHARSET: ["UTF8"] * len(charsets)} if charsets else {}
    names = {(2, 25): tag_names.IPTC_KEYWORDS, (2, 120): tag_names.IPTC_CAPTION}
    for record, dataset, value in records:
        if record != 2 or dataset == 0:  # envelope and binary record-version fields
            continue
        text = _as_xml_reads(value.decode("utf-8") if utf8 else value.decode("cp1252"))  # exiftool's "Latin"
        tags.setdefault(names.get((record, dataset), f"IPTC:Dataset2-{dataset}"), []).append(text)
    return tags


def _iptc_block(resources: bytes) -> bytes:
    position, found = 0, None
    while position + 12 <= len(resources) and resources[position : position + 4] == b"8BIM":
        resource = struct.unpack(">H", resources[position + 4 : position + 6])[0]
        name_length = resources[position + 6]
        position += 6 + (name_length + 2 if name_length % 2 == 0 else name_length + 1)
        size = struct.unpack(">I", resources[position : position + 4])[0]
        if resource == 0x0404:
            if found is not None:
                raise NotSure("two IPTC resources")
            found = resources[position + 4 : position + 4 + size]
        position += 4 + size + (size % 2)
    return found or b""


def _ifd0_text(tiff: bytes) -> dict[str, list[str]]:
    """XPKeywords and ImageDescription from IFD0 of the EXIF block (the only EXIF fields the plan reads)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        raise NotSure("not a TIFF header")
    offset = struct.unpack(order + "I", tiff[4:8])[0]
    count = struct.unpack(order + "H", tiff[offset : offset + 2])[0]
    tags: dict[str, list[str]] = {}
    for index in range(count):
        entry = tiff[offset + 2 + 12 * index : offset + 14 + 12 * index]
        tag, kind, items = struct.unpack(order + "HHI", entry[:8])
        if tag not in (XP_KEYWORDS_TAG, IMAGE_DESCRIPTION_TAG):
            continue
        size = TYPE_SIZES.get(kind, 0) * items
        if size <= 4:
            value = entry[8 : 8 + size]
        else:
            start = struct.unpack(order + "I", entry[8:12])[0]
            value = tiff[start : start + size]
        if len(value) != size:
            raise NotSure("an EXIF value past the end of its block")
        if tag == XP_KEYWORDS_TAG:
            if kind != 1 or size % 2:
                raise NotSure("XPKeywords of an odd type")
            tags[tag_names.XP_KEYWORDS] = [_as_xml_reads(value.decode("utf-16-le").rstrip("\x00"))]
        else:
            text = value.split(b"\x00", 1)[0]
            if kind != 2 or not text.isascii():
                raise NotSure("ImageDescription exiftool may read otherwise")
            tags[tag_names.EXIF_DESCRIPTION] = [_as_xml_reads(text.decode("ascii"))]
    return tags


def _as_xml_reads(text: str) -> str:
    """Line ends as the stage sees exiftool's values: through its XML output, where CR and CRLF become LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
