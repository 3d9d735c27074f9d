"""What the engine wants in a file: keywords, category, caption, place, people, read from the stage results and
the user's corrections (the user's word wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daemon.metadata import people as people_fields
from daemon.metadata.tag_names import PLACE_TAGS
from daemon.metadata.text import clean_hierarchy, clean_text, fold


@dataclass(frozen=True)
class Keyword:
    text: str
    score: float | None = None
    hierarchy: str | None = None


@dataclass
class Wanted:
    """What the engine wants in the file, from the `tag` and `dedup` results."""

    keywords: list[Keyword] = field(default_factory=list)
    category: str | None = None
    caption: str | None = None
    model: str | None = None
    tagged: bool = False  # a tag result exists: in `replace` mode, old engine keywords it lacks are removed
    place: dict[str, str] = field(default_factory=dict)  # PLACE_TAGS tag -> value
    text: str | None = None  # text OCR read in the image ("" = read, none found; None = not analysed)
    rejected: set[str] = field(default_factory=set)  # folded keywords the user rejected: removed in every mode
    user_caption: str | None = None  # the user's own caption (review app): written over any other, never replaced
    user_category: bool = False  # `category` is the user's: the engine's other category paths leave the file
    withdrawn: list[str] = field(default_factory=list)  # the engine takes these back (e.g. `untaught`), any mode
    people: people_fields.NamedFaces | None = None  # named faces ([people]; daemon/metadata/people.py)

    @property
    def empty(self) -> bool:
        return not (
            self.keywords
            or self.category
            or self.caption
            or self.tagged
            or self.place
            or self.text is not None
            or self.rejected
            or self.user_caption
            or (self.people is not None and bool(self.people.faces or self.people.withdrawn))
            or self.withdrawn  # a keyword to take back (a burst's former best frame) is work too
        )


def wanted_from(
    tag: dict[str, Any], dedup: dict[str, Any], dedup_keyword: str, corrections: dict[str, Any] | None = None
) -> Wanted:
    """Read the stage inputs (absent = empty): tag keywords/category/caption, the duplicate keyword, and the
    user's corrections (keywords rejected and added in the review app: the user's word wins)."""
    corrections = corrections or {}
    wanted = Wanted(tagged=bool(tag), rejected={fold(clean_text(k)) for k in corrections.get("rejected") or []})
    added = [{"keyword": k} for k in corrections.get("added") or []]
    wanted.user_caption = clean_text(corrections.get("caption") or "", multiline=True) or None
    for entry in [*(tag.get("keywords") or []), *added]:
        if isinstance(entry, str):
            entry = {"keyword": entry}
        text = clean_text(entry.get("keyword") or "")
        if not text or fold(text) in wanted.rejected:
            continue
        score = entry.get("score")
        wanted.keywords.append(
            Keyword(
                text, float(score) if isinstance(score, int | float) else None, clean_hierarchy(entry.get("hierarchy"))
            )
        )
    wanted.withdrawn = [clean_text(text) for text in tag.get("withdrawn") or [] if clean_text(text)]
    wanted.category = clean_text(corrections.get("category") or tag.get("category") or "") or None  # user's first
    wanted.user_category = bool(corrections.get("category"))
    wanted.caption = clean_text(tag.get("caption") or "", multiline=True) or None
    model = tag.get("model") or tag.get("backend")
    wanted.model = clean_text(model) if model else None
    duplicate = dedup.get("group") is not None or dedup.get("duplicate_of")
    if dedup.get("action") == "tag" and duplicate and not dedup.get("keeper") and dedup.get("choice") != "keep":
        text = clean_text(dedup_keyword)
        if text:
            wanted.keywords.append(Keyword(text))
    return wanted


def place_fields(place: dict[str, Any] | None) -> dict[str, str]:
    """The probe's place as the XMP tags that hold it (empty without a place)."""
    if not place:
        return {}
    fields = {tag: clean_text(place.get(key) or "") for tag, key in PLACE_TAGS.items()}
    return {tag: value for tag, value in fields.items() if value}
