"""Read the facts a photo tool shows from EXIF: taken time with fallbacks, camera, orientation, GPS.

Broken EXIF never fails a job: a value that cannot be read is simply absent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PIL import Image

TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
TAG_EXIF_IFD, TAG_GPS_IFD = 0x8769, 0x8825
TAG_DATETIME_ORIGINAL, TAG_CREATE_DATE = 0x9003, 0x9004


def read_facts(image: Image.Image, mtime: float) -> dict[str, Any]:
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - Pillow raises many types on broken EXIF
        exif = Image.Exif()
    try:
        exif_ifd = exif.get_ifd(TAG_EXIF_IFD)
    except Exception:  # noqa: BLE001
        exif_ifd = {}
    facts: dict[str, Any] = {
        "make": _text(exif.get(TAG_MAKE)),
        "model": _text(exif.get(TAG_MODEL)),
        "orientation": _orientation(exif.get(TAG_ORIENTATION)),
    }
    for tag, source in ((TAG_DATETIME_ORIGINAL, "DateTimeOriginal"), (TAG_CREATE_DATE, "CreateDate")):
        taken = _datetime(exif_ifd.get(tag))
        if taken:
            facts["taken"], facts["taken_source"] = taken, source
            break
    else:
        facts["taken"] = dt.datetime.fromtimestamp(mtime).isoformat(timespec="seconds")
        facts["taken_source"] = "mtime"
    facts["gps_lat"], facts["gps_lon"] = _gps(exif)
    return facts


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


def _datetime(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    for layout in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return dt.datetime.strptime(text[:19], layout).isoformat(timespec="seconds")
        except ValueError:
            continue
    return None


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
