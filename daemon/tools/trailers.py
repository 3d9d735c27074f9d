"""Metadata trailers after a JPEG's or TIFF's image data (AFCP, FotoStation, Photo Mechanic), from their last bytes.

exiftool's -fast options stop at the end of the image, so a file with such a trailer must be read without them: an
AFCP or FotoStation trailer can hold an IPTC block (`IPTC2`) with the user's keywords.
"""

from __future__ import annotations

import re
from pathlib import Path

# The endings exiftool's IdentifyTrailer recognises for the trailers that carry (or may sit in front of) IPTC.
_TRAILER_END = re.compile(rb"(AXS[!*].{8}|\xa1\xb2\xc3\xd4|cbipcbbl)\Z", re.DOTALL)
_TAIL_BYTES = 64


def has_metadata_trailer(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read(_TAIL_BYTES)
    except OSError:
        return False  # exiftool will say what is wrong with the file
    return _TRAILER_END.search(tail) is not None
