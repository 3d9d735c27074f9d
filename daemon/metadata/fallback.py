"""Writing JPEG metadata without exiftool: our own XMP APP1 segment, plus EXIF XPKeywords through piexif.

Segments are replaced in place (piexif's own insert drops the JFIF segment); the scan data is never touched.
"""

from __future__ import annotations

import struct

import piexif

from daemon.metadata import tag_names, xmp

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_XMP_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_HEADER = b"Exif\x00\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
MAX_XMP_PACKET = 65533 - len(XMP_HEADER)
APP0, APP1, APP13, SOS = 0xE0, 0xE1, 0xED, 0xDA


class FallbackError(Exception):
    """This JPEG needs exiftool (several XMP blocks, extended XMP, a packet too large, odd structure)."""


def split(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(marker, payload) for each segment before the scan, and the bytes from the scan on."""
    if data[:2] != b"\xff\xd8":
        raise FallbackError("it does not start like a JPEG")
    segments: list[tuple[int, bytes]] = []
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise FallbackError(f"its segment structure is broken at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == SOS:
            return segments, data[position:]
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        segments.append((marker, data[position + 4 : position + 2 + length]))
        position += 2 + length
    raise FallbackError("it ends before its image data")


def join(segments: list[tuple[int, bytes]], rest: bytes) -> bytes:
    out = bytearray(b"\xff\xd8")
    for marker, payload in segments:
        out += bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    return bytes(out + rest)


def _xmp_packets(segments: list[tuple[int, bytes]]) -> list[bytes]:
    if any(m == APP1 and p.startswith(EXTENDED_XMP_HEADER) for m, p in segments):
        raise FallbackError("it has extended XMP")
    return [p[len(XMP_HEADER) :] for m, p in segments if m == APP1 and p.startswith(XMP_HEADER)]


def read(data: bytes) -> tuple[dict[str, list[str]], bool]:
    """The fields as exiftool names them, and whether EXIF text tags can be rewritten safely."""
    segments, _ = split(data)
    packets = _xmp_packets(segments)
    if len(packets) > 1:
        raise FallbackError("it has several XMP segments")
    try:
        tags = xmp.read(xmp.parse(packets[0] if packets else None))
    except xmp.XmpError as exc:
        raise FallbackError(str(exc)) from None
    tags[tag_names.FILE_TYPE] = ["JPEG"]
    for marker, payload in segments:
        if marker == APP13 and payload.startswith(PHOTOSHOP_HEADER):
            for tag, values in _iptc(payload[len(PHOTOSHOP_HEADER) :]).items():
                tags.setdefault(tag, []).extend(values)
    exif_writable = False
    exif = next((p for m, p in segments if m == APP1 and p.startswith(EXIF_HEADER)), None)
    try:
        loaded = piexif.load(exif) if exif else {"0th": {}, "Exif": {}}
        zeroth = loaded["0th"]
        if piexif.ImageIFD.XPKeywords in zeroth:
            raw = bytes(zeroth[piexif.ImageIFD.XPKeywords])
            tags[tag_names.XP_KEYWORDS] = [raw.decode("utf-16-le", "replace").rstrip("\x00")]
        if piexif.ImageIFD.ImageDescription in zeroth:
            raw = zeroth[piexif.ImageIFD.ImageDescription]
            text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
            tags[tag_names.EXIF_DESCRIPTION] = [text.rstrip("\x00")]
        # piexif rewrites the whole EXIF block: maker notes hold offsets it cannot fix, so leave those alone.
        exif_writable = piexif.ExifIFD.MakerNote not in loaded.get("Exif", {})
        if exif_writable and exif:
            piexif.dump(loaded)
    except Exception:  # noqa: BLE001 - piexif raises anything on odd EXIF: then EXIF is read-only to us
        exif_writable = False
    return tags, exif_writable


def _iptc(resources: bytes) -> dict[str, list[str]]:
    """IPTC keywords and caption from Photoshop image resources (8BIM 0x0404)."""
    position, raw = 0, b""
    while position + 12 <= len(resources) and resources[position : position + 4] == b"8BIM":
        resource = struct.unpack(">H", resources[position + 4 : position + 6])[0]
        name_length = resources[position + 6]
        position += 6 + (name_length + 2 if name_length % 2 == 0 else name_length + 1)
        size = struct.unpack(">I", resources[position : position + 4])[0]
        if resource == 0x0404:
            raw = resources[position + 4 : position + 4 + size]
        position += 4 + size + (size % 2)
    records: list[tuple[int, int, bytes]] = []
    position = 0
    while position + 5 <= len(raw) and raw[position] == 0x1C:
        record, dataset, size = (
            raw[position + 1],
            raw[position + 2],
            struct.unpack(">H", raw[position + 3 : position + 5])[0],
        )
        if size & 0x8000:
            break  # extended datasets never hold keywords
        records.append((record, dataset, raw[position + 5 : position + 5 + size]))
        position += 5 + size
    utf8 = any(r == 1 and d == 90 and v == b"\x1b%G" for r, d, v in records)
    tags: dict[str, list[str]] = {}
    names = {(2, 25): tag_names.IPTC_KEYWORDS, (2, 120): tag_names.IPTC_CAPTION}
    for record, dataset, value in records:
        if (record, dataset) in names:
            tags.setdefault(names[record, dataset], []).append(value.decode("utf-8" if utf8 else "latin-1", "replace"))
    if records:
        tags[tag_names.IPTC_CHARSET] = ["UTF8" if utf8 else ""]
    return tags


def apply(data: bytes, writes: dict[str, list[str]]) -> bytes:
    """The JPEG with `writes` applied: XMP properties in one XMP segment, EXIF text tags through piexif."""
    segments, rest = split(data)
    packets = _xmp_packets(segments)
    meta = xmp.parse(packets[0] if packets else None)
    xmp.write(meta, {tag: values for tag, values in writes.items() if tag in xmp.PROPERTIES})
    packet = xmp.serialize(meta)
    if len(packet) > MAX_XMP_PACKET:
        raise FallbackError("its XMP would not fit in one JPEG segment")
    exif_writes = {
        tag: values for tag, values in writes.items() if tag in (tag_names.XP_KEYWORDS, tag_names.EXIF_DESCRIPTION)
    }
    exif_at = next((i for i, (m, p) in enumerate(segments) if m == APP1 and p.startswith(EXIF_HEADER)), None)
    if exif_writes:
        loaded = piexif.load(segments[exif_at][1]) if exif_at is not None else {"0th": {}}
        zeroth = loaded.setdefault("0th", {})
        for tag, key, encode in (
            (tag_names.XP_KEYWORDS, piexif.ImageIFD.XPKeywords, lambda v: v.encode("utf-16-le") + b"\x00\x00"),
            (tag_names.EXIF_DESCRIPTION, piexif.ImageIFD.ImageDescription, lambda v: v.encode("ascii")),
        ):
            if tag in exif_writes:
                zeroth.pop(key, None)
                if exif_writes[tag]:
                    zeroth[key] = encode(exif_writes[tag][0])
        dumped = piexif.dump(loaded)
        if exif_at is None:
            exif_at = 1 if segments and segments[0][0] == APP0 else 0
            segments.insert(exif_at, (APP1, dumped))
        else:
            segments[exif_at] = (APP1, dumped)
    kept = [(m, p) for m, p in segments if not (m == APP1 and p.startswith(XMP_HEADER))]
    after = max(
        (i + 1 for i, (m, p) in enumerate(kept) if m == APP0 or (m == APP1 and p.startswith(EXIF_HEADER))), default=0
    )
    kept.insert(after, (APP1, XMP_HEADER + packet))
    return join(kept, rest)
