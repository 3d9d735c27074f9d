"""The values a template's fields render from: earlier stages' results for one file, and its own name.

Absent results give absent values (rendered as the placeholder), never an error.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any


def extension_of(path: Path | str, jpeg_as_jpg: bool) -> str:
    """Lower-cased suffix without the dot; `jpeg` becomes `jpg` when asked."""
    ext = Path(path).suffix[1:].lower()
    return "jpg" if jpeg_as_jpg and ext == "jpeg" else ext


def naming_values(
    path: Path,
    probe: dict[str, Any],
    hashed: dict[str, Any],
    tagged: dict[str, Any],
    jpeg_as_jpg: bool,
) -> dict[str, Any]:
    taken = _datetime(probe.get("taken"))
    source = probe.get("taken_source") if taken else None
    if taken is None:
        try:
            taken, source = dt.datetime.fromtimestamp(os.stat(path).st_mtime), "mtime"
        except OSError:
            taken = None
    keywords = [entry.get("keyword") if isinstance(entry, dict) else entry for entry in tagged.get("keywords") or []]
    return {
        "taken": taken,
        "taken_source": source,
        "make": probe.get("make"),
        "model": probe.get("model"),
        "category": tagged.get("category"),
        "keywords": [str(word) for word in keywords if word],
        "stem": path.stem,
        "ext": extension_of(path, jpeg_as_jpg),
        "hash": hashed.get("sha256"),
    }


def _datetime(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
