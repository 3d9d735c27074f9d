"""Text as it goes into a file's metadata: cleaned for XMP and IPTC, compared case- and composition-blind, and the
engine's own `keyword=score` entries.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

SLASH = "\u2215"  # stands for a '/' inside one level of a '/'-separated hierarchy

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean_text(value: Any, multiline: bool = False) -> str:
    """Text safe for XMP and IPTC: NFC, no control characters, single spaces (line breaks kept if `multiline`)."""
    text = unicodedata.normalize("NFC", str(value))
    text = _XML_INVALID.sub(" ", text)
    if multiline:
        lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        return "\n".join(lines).strip()
    return " ".join(text.split())


def clean_existing(value: str) -> str:
    """A value the file already has, changed as little as possible: only what XMP cannot hold goes."""
    return _XML_INVALID.sub(" ", value).replace("\r", " ").replace("\n", " ").replace("\t", " ").strip()


def clean_existing_path(value: str) -> str:
    return "|".join(part.strip() for part in clean_existing(value).split("|") if part.strip())


def clean_hierarchy(value: str | None) -> str | None:
    if not value:
        return None
    parts = [clean_text(part) for part in str(value).split("|")]
    parts = [part for part in parts if part]
    return "|".join(parts) or None


def fold(text: str) -> str:
    """The comparison key: case-insensitive, and blind to Unicode composition (é vs e + combining accent)."""
    return unicodedata.normalize("NFC", text).casefold()


def unique(values: list[str]) -> list[str]:
    """De-duplicated case-insensitively, first spelling and order kept."""
    seen: set[str] = set()
    result = []
    for value in values:
        key = fold(value)
        if value and key not in seen:
            seen.add(key)
            result.append(value)
    return result


def parse_engine_entry(entry: str) -> tuple[str, float | None]:
    """'dog=0.91' -> ('dog', 0.91); an entry without a numeric score is all keyword."""
    text, sep, tail = entry.rpartition("=")
    if sep and text:
        try:
            return text, float(tail)
        except ValueError:
            pass
    return entry, None


def engine_entry(text: str, score: float | None) -> str:
    return text if score is None else f"{text}={score:.3f}"
