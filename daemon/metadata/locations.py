"""One value list per tag, whatever block of the file it came from: the union of every location exiftool reports.

exiftool names a second IPTC block (an AFCP trailer, a FotoStation one) `IPTC2`; writing `IPTC:Keywords` rewrites
those blocks too, so a keyword that lives only there must be read as the user's, or the engine's write drops it.
"""

from __future__ import annotations

import re
import unicodedata

_NUMBERED_IPTC = re.compile(r"^IPTC\d+:")


def union_of_locations(existing: dict[str, list[str]]) -> dict[str, list[str]]:
    """`IPTC2:Keywords` and the like folded into `IPTC:Keywords` (values the first block lacks appended)."""
    merged = {tag: list(values) for tag, values in existing.items() if not _NUMBERED_IPTC.match(tag)}
    for tag, values in existing.items():
        if not _NUMBERED_IPTC.match(tag):
            continue
        name = "IPTC:" + tag.split(":", 1)[1]
        have = merged.setdefault(name, [])
        known = {_key(value) for value in have}
        for value in values:
            if _key(value) not in known:
                have.append(value)
                known.add(_key(value))
    return merged


def _key(value: str) -> str:
    return unicodedata.normalize("NFC", value).casefold()
