"""When a photo was taken: the first trusted date along one documented chain, with the step that gave it.

DateTimeOriginal -> CreateDate -> GPSDateStamp/GPSTimeStamp -> ModifyDate -> a date in the file name -> file mtime;
XMP (photoshop:DateCreated, xmp:CreateDate, ...) and PNG tIME stand in right after the EXIF step they match.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

EARLIEST_YEAR = 1826  # the oldest surviving photograph; anything earlier is a broken clock or a placeholder
LATEST_YEAR = 2037  # 2038 and later: a camera whose clock was never set (or wrapped), never a real date
FUTURE_SLACK = dt.timedelta(days=1)  # time zones and slightly fast camera clocks

CHAIN = ("DateTimeOriginal", "CreateDate", "GPSDateStamp", "ModifyDate", "file name", "mtime")

_LAYOUTS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y:%m:%d %H:%M", "%Y-%m-%dT%H:%M")
_DATE_ONLY = ("%Y:%m:%d", "%Y-%m-%d")
_EXIF_LAYOUT = re.compile(r"[0-9]{4}:[0-9]{2}:[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_EXIF_FIELDS = ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))
# IMG_20190704_123456, PXL_20210101_123456789, VID-20200101-WA0001, Screenshot 2021-03-02 at 10.11.12,
# signal-2022-05-06-101112, 2019-07-04 12.34.56: a year 1826-2099, month, day, then optionally the time.
_NAME_DATE = re.compile(
    r"(?<![0-9])(?P<y>18[2-9][0-9]|19[0-9]{2}|20[0-9]{2})[-_.]?(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12][0-9]|3[01])"
    r"(?:(?:[-_ T]|\s+at\s+)(?P<H>[01][0-9]|2[0-3])[-_.:h]?(?P<M>[0-5][0-9])[-_.:m]?(?P<S>[0-5][0-9])[0-9]{0,3})?(?![0-9])"
)


@dataclass(frozen=True)
class Taken:
    taken: str  # ISO local clock time, seconds precision
    source: str  # the step of CHAIN that gave it (or "first seen" when even the file time is impossible)
    note: str | None = None  # the dates passed over on the way, and why: "DateTimeOriginal 2038-01-19 ... not trusted"


def parse_datetime(text: str | None) -> dt.datetime | None:
    """An EXIF or XMP date-time as a naive clock time; a time-zone suffix and sub-seconds are dropped."""
    if not text:
        return None
    text = text.strip().split("\x00", 1)[0]
    if _EXIF_LAYOUT.fullmatch(text):  # the usual "YYYY:MM:DD HH:MM:SS": what strptime gives, for a tenth of its cost
        try:
            return dt.datetime(*(int(text[start : start + length]) for start, length in _EXIF_FIELDS))
        except ValueError:
            pass  # 2019:02:30 and the like: the general path below decides, as before
    head = re.sub(r"(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", "", text[:32])
    for layout in _LAYOUTS:
        for piece in (head, text[:19]):
            try:
                return dt.datetime.strptime(piece, layout)
            except ValueError:
                continue
    for layout in _DATE_ONLY:
        try:
            return dt.datetime.strptime(head[:10], layout)
        except ValueError:
            continue
    return None


def date_in_name(name: str) -> dt.datetime | None:
    """The first plausible date (and time, when written) in a file name; None when there is none."""
    for match in _NAME_DATE.finditer(name):
        parts = {key: int(value) if value else 0 for key, value in match.groupdict().items()}
        try:
            return dt.datetime(parts["y"], parts["m"], parts["d"], parts["H"], parts["M"], parts["S"])
        except ValueError:
            continue  # 2019-02-30
    return None


def why_untrusted(when: dt.datetime, now: dt.datetime) -> str | None:
    if when.year < EARLIEST_YEAR:
        return f"before {EARLIEST_YEAR}"
    if when.year > LATEST_YEAR:
        return "year 2038 or later: a clock that was never set"
    if when > now + FUTURE_SLACK:
        return "in the future"
    return None


def resolve(candidates: list[tuple[str, str | None]], name: str, mtime: float, now: dt.datetime | None = None) -> Taken:
    """The first trusted date among `candidates` ((source, raw text) in chain order), the name, then the mtime."""
    now = now or dt.datetime.now()
    passed_over: list[str] = []
    try:
        modified: dt.datetime | None = dt.datetime.fromtimestamp(mtime)
    except (OverflowError, OSError, ValueError):
        modified = None
        passed_over.append("mtime is not a date")

    def steps() -> Iterator[tuple[str, dt.datetime | None, str | None]]:
        """Parsed only as far as the chain goes (strptime is most of the cost): the first trusted date ends it."""
        for source, raw in candidates:
            if raw and raw.strip(" \x00:"):
                yield source, parse_datetime(raw), raw
        yield "file name", date_in_name(name), None
        if modified is not None:
            yield "mtime", modified, None

    for source, when, raw in steps():
        if when is None:
            if raw is not None:
                passed_over.append(f"{source} {raw.strip()!r} is not a date")
            continue
        reason = why_untrusted(when, now)
        if reason:
            passed_over.append(f"{source} {when.isoformat(sep=' ')} not trusted ({reason})")
            continue
        return Taken(when.isoformat(timespec="seconds"), source, _note(passed_over, source))
    return Taken(now.replace(microsecond=0).isoformat(), "first seen", _note(passed_over, "the time it was first seen"))


def _note(passed_over: list[str], used: str) -> str | None:
    return f"{'; '.join(passed_over)}; used {used}" if passed_over else None
