"""Read the facts a photo tool shows from EXIF (and XMP, PNG tIME): taken time, camera, orientation, GPS.

Broken EXIF never fails a job: a value that cannot be read is simply absent. The taken-time chain is in taken.py.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from PIL import Image

from daemon.pipeline import exif_fast
from daemon.pipeline import taken as taken_time

TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
TAG_EXIF_IFD, TAG_GPS_IFD = 0x8769, 0x8825
TAG_DATETIME_ORIGINAL, TAG_CREATE_DATE = 0x9003, 0x9004
TAG_GPS_TIME, TAG_GPS_DATE = 0x07, 0x1D
TAG_OFFSET_TIME, TAG_OFFSET_TIME_ORIGINAL = 0x9010, 0x9011
TAG_LENS_MAKE, TAG_LENS_MODEL = 0xA433, 0xA434
# XMP dates, by the step of the chain they stand in for when the EXIF one is absent.
_XMP_DATE = re.compile(
    r"(exif:DateTimeOriginal|photoshop:DateCreated|xmp:CreateDate|xmp:ModifyDate)\s*(?:=\s*[\"']([^\"'<]+)|>([^<]+)<)"
)
_XMP_STEP = {
    "exif:DateTimeOriginal": "DateTimeOriginal",
    "photoshop:DateCreated": "DateTimeOriginal",
    "xmp:CreateDate": "CreateDate",
    "xmp:ModifyDate": "ModifyDate",
}


def read_facts(
    image: Image.Image, mtime: float, name: str = "", data: bytes = b"", fast: bool = True
) -> dict[str, Any]:
    """The facts; `fast=False` reads every tag through Pillow (what the fast reader is checked against)."""
    exif, exif_ifd = _tags(image, fast)
    facts: dict[str, Any] = {
        "make": _text(exif.get(TAG_MAKE)),
        "model": _text(exif.get(TAG_MODEL)),
        "orientation": _orientation(exif.get(TAG_ORIENTATION)),
    }
    taken = taken_time.resolve(date_candidates(image, exif, exif_ifd, data), name, mtime)
    facts["taken"], facts["taken_source"], facts["taken_note"] = taken.taken, taken.source, taken.note
    facts["gps_lat"], facts["gps_lon"] = _gps(exif)
    lens = [_text(exif_ifd.get(TAG_LENS_MAKE)), _text(exif_ifd.get(TAG_LENS_MODEL))]
    facts["lens"] = " ".join(part for part in lens if part) or None  # shown on the review app's photo page
    return facts


def _tags(image: Image.Image, fast: bool = True) -> tuple[Any, Any]:
    """IFD0 and the Exif IFD: from the plain JPEG Exif block directly (exif_fast), else through Pillow."""
    tags = exif_fast.read(image) if fast else None
    if tags is not None:
        return tags, tags.get_ifd(TAG_EXIF_IFD)
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - Pillow raises many types on broken EXIF
        exif = Image.Exif()
    try:
        exif_ifd = exif.get_ifd(TAG_EXIF_IFD)
    except Exception:  # noqa: BLE001
        exif_ifd = {}
    return exif, exif_ifd


def date_candidates(
    image: Image.Image, exif: Image.Exif, exif_ifd: Any, data: bytes = b""
) -> list[tuple[str, str | None]]:
    """(step, raw text) in the order of taken.CHAIN; XMP and PNG tIME fill in for an EXIF step they match."""
    found: dict[str, list[tuple[str, str | None]]] = {
        "DateTimeOriginal": [("DateTimeOriginal", _text(exif_ifd.get(TAG_DATETIME_ORIGINAL)))],
        "CreateDate": [("CreateDate", _text(exif_ifd.get(TAG_CREATE_DATE)))],
        "GPSDateStamp": [("GPSDateStamp", _gps_datetime(exif, exif_ifd))],
        "ModifyDate": [("ModifyDate", _text(exif.get(TAG_DATETIME)))],
    }
    for tag, value in _xmp_dates(image):
        found[_XMP_STEP[tag]].append((f"XMP {tag}", value))
    found["ModifyDate"].append(("PNG tIME", _png_time(data)))
    return [(source, value) for pairs in found.values() for source, value in pairs if value]


def _gps_datetime(exif: Image.Exif, exif_ifd: Any) -> str | None:
    """GPSDateStamp + GPSTimeStamp as 'YYYY:MM:DD HH:MM:SS': UTC, turned into the camera's clock time when the file
    says its offset (OffsetTimeOriginal / OffsetTime), else kept as UTC."""
    try:
        gps = exif.get_ifd(TAG_GPS_IFD)
        date = _text(gps.get(TAG_GPS_DATE))
        if not date:
            return None
        stamp = gps.get(TAG_GPS_TIME)
        hours, minutes, seconds = (int(float(part)) for part in stamp) if stamp else (0, 0, 0)
        when = dt.datetime.strptime(date[:10].replace("-", ":"), "%Y:%m:%d").replace(
            hour=hours, minute=minutes, second=seconds
        )
    except Exception:  # noqa: BLE001 - absent or malformed GPS
        return None
    offset = _offset(exif_ifd.get(TAG_OFFSET_TIME_ORIGINAL) or exif_ifd.get(TAG_OFFSET_TIME))
    return (when + offset).strftime("%Y:%m:%d %H:%M:%S")


def _offset(value: Any) -> dt.timedelta:
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", _text(value) or "")
    if not match:
        return dt.timedelta()
    sign = -1 if match[1] == "-" else 1
    return sign * dt.timedelta(hours=int(match[2]), minutes=int(match[3]))


def _xmp_dates(image: Image.Image) -> list[tuple[str, str]]:
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else str(packet)
    return [(match[1], match[2] or match[3]) for match in _XMP_DATE.finditer(text)]


def _png_time(data: bytes) -> str | None:
    """A PNG's tIME chunk (last modification, UTC), which Pillow does not read."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position = 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"tIME" and length == 7:
            body = data[position + 8 : position + 15]
            year = int.from_bytes(body[:2], "big")
            return f"{year:04d}:{body[2]:02d}:{body[3]:02d} {body[4]:02d}:{body[5]:02d}:{body[6]:02d}"
        if kind in (b"IDAT", b"IEND"):
            return None
        position += 12 + length
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).split("\x00", 1)[0].strip()  # EXIF ASCII ends at the first NUL
    return text or None


def _orientation(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 8 else None


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    try:
        gps = exif.get_ifd(TAG_GPS_IFD)
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None, None
        return lat, lon
    except Exception:  # noqa: BLE001 - absent or malformed GPS
        return None, None


def _degrees(parts: Any, ref: Any, negative: str) -> float | None:
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    return round(-value if str(ref).strip().upper() == negative else value, 7)
