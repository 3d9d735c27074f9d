"""Turn what a user types into an FTS5 match expression, and the filters into a typed value.

Words must all match (any field); "quoted words" match as a phrase; -word excludes; word* is a prefix;
field:word looks in one field (keyword, caption, text/ocr, folder, name, camera, place).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

FIELDS = ("keywords", "caption", "ocr", "folder", "name", "camera", "place")
FIELD_ALIASES = {
    "keyword": "keywords",
    "keywords": "keywords",
    "tag": "keywords",
    "caption": "caption",
    "text": "ocr",
    "ocr": "ocr",
    "folder": "folder",
    "name": "name",
    "file": "name",
    "camera": "camera",
    "place": "place",
}
_TOKEN = re.compile(r'(-?)(?:(\w+):)?("[^"]*"?|\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Filters:
    """Conditions every result must meet, whatever matched."""

    after: str | None = None  # ISO date or date-time, inclusive
    before: str | None = None  # ISO date (the whole day counts) or date-time, inclusive
    camera: str | None = None
    folder: str | None = None
    keyword: str | None = None
    category: str | None = None
    person: str | None = None  # a person's name ([people]): only photos with a face of theirs
    min_quality: float | None = None  # the quality analyzer's score, 0..100
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Filters:
        """From the API body; a bad date raises ValueError naming the field and the value."""
        values = {
            name: _text(data.get(name))
            for name in ("after", "before", "camera", "folder", "keyword", "category", "person")
        }
        for name in ("after", "before"):
            if values[name]:
                values[name] = _iso_date(name, values[name])
        if values["before"] and len(values["before"]) == 10:
            values["before"] += "T23:59:59"
        return cls(**values, min_quality=_quality(data.get("min_quality")))  # type: ignore[arg-type]

    def any(self) -> bool:
        return any((self.after, self.before, self.camera, self.folder, self.keyword, self.category, self.person)) or (
            self.min_quality is not None
        )


def match_expression(text: str) -> str | None:
    """The FTS5 expression for `text` (None when it holds no word); every term is quoted, so no user word is syntax."""
    positive: list[str] = []
    negative: list[str] = []
    for minus, prefix, body in _TOKEN.findall(text):
        column = FIELD_ALIASES.get(prefix.lower()) if prefix else None
        if prefix and column is None:
            body = f"{prefix} {body}"  # "12:30" or "http://..": not a field, search the words
        star = body.endswith("*") and not body.startswith('"')
        words = _WORD.findall(body)
        if not words:
            continue
        term = '"' + " ".join(words) + '"' + ("*" if star else "")
        if column:
            term = f"{column} : {term}"
        (negative if minus else positive).append(term)
    if not positive:
        return None
    expression = " AND ".join(positive)
    for term in negative:
        expression = f"({expression}) NOT {term}"
    return expression


_TERM = re.compile(r'(NOT )?((?:\w+ : )?"[^"]*"\*?)')


def positive_terms(expression: str) -> list[str]:
    """The terms of a `match_expression` result that must match (each quoted, so this reading is exact)."""
    return [term for negated, term in _TERM.findall(expression) if not negated]


def _text(value: object) -> str | None:
    text = str(value).strip() if value not in (None, "") else ""
    return text or None


def _quality(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number <= 100:
        raise ValueError(f"min_quality: {value!r} is not a quality score (a number from 0 to 100)")
    return number


def _iso_date(name: str, value: str) -> str:
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
        return dt.datetime.fromisoformat(value).isoformat(timespec="seconds")
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)") from None
