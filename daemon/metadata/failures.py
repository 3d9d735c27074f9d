"""One-line messages for metadata that could not be written: the cause in words, then what happens next.

exiftool's own lines repeat the full path (and its temporary copy's); the job already names the file.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_NAME_BYTES = 255
TEMP_SUFFIX = "_exiftool_tmp"
_PREFIX = re.compile(r"^(?:(?:Error|Warning)\s*:\s*)+", re.IGNORECASE)


def name_too_long(target: Path) -> str | None:
    """The message when exiftool's temporary copy of `target` (NAME_exiftool_tmp) cannot have a legal name."""
    name_bytes = len(target.name.encode())
    if name_bytes + len(TEMP_SUFFIX) <= MAX_NAME_BYTES:
        return None
    return (
        f"metadata not written: the file name is {name_bytes} bytes long, too long for exiftool's temporary copy"
        f" (name + {TEMP_SUFFIX!r} must fit in {MAX_NAME_BYTES} bytes); the photo is unchanged:"
        " rename it shorter and run `image-engine retry`"
    )


def write_failure(target: Path, exiftool_message: str, *, retried: bool = False) -> str:
    """`exiftool_message` (e.g. "Error: Error creating file: /p/x.jpg_exiftool_tmp - /p/x.jpg") as one short line."""
    too_long = name_too_long(target)
    if too_long and "creating file" in exiftool_message.lower():
        return too_long
    advice = "it is tried again by itself" if retried else "fix that and run `image-engine retry`"
    return f"metadata not written: {short_cause(target, exiftool_message)}; the photo is unchanged: {advice}"


def short_cause(target: Path, exiftool_message: str) -> str:
    """exiftool's first line without its 'Error:' prefixes, its trailing ' - PATH' and the repeated full paths."""
    line = (exiftool_message.strip().splitlines() or ["exiftool gave no reason"])[0]
    line = _PREFIX.sub("", line)
    for path in (str(target) + TEMP_SUFFIX, str(target), target.name + TEMP_SUFFIX, target.name):
        if line.endswith(f" - {path}"):
            line = line[: -len(path) - 3]
    line = line.replace(str(target) + TEMP_SUFFIX, "its temporary copy").replace(str(target), "the photo")
    return line.rstrip(" .:") or "exiftool gave no reason"
