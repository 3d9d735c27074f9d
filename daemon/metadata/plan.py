"""The merge: what a file already carries + what the engine found -> the full new value of every field.

Fields are exiftool tag names (`XMP-dc:Subject`); values are lists. A user's keywords are never removed;
`replace` removes only what the engine's own namespace (XMP-imageengine) says the engine wrote before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daemon.metadata import people as people_fields
from daemon.metadata.locations import union_of_locations
from daemon.metadata.tag_names import (
    DESCRIPTION,
    ENGINE_CAPTION,
    ENGINE_CATEGORY,
    ENGINE_HIERARCHY,
    ENGINE_KEYWORDS,
    ENGINE_MODEL,
    ENGINE_TEXT,
    ENGINE_VERSION,
    EXIF_DESCRIPTION,
    HIERARCHY,
    IPTC_CAPTION,
    IPTC_CAPTION_BYTES,
    IPTC_CHARSET,
    IPTC_KEYWORD_BYTES,
    IPTC_KEYWORDS,
    LAST_KEYWORD,
    SUBJECT,
    TAGS_LIST,
    XP_KEYWORDS,
)
from daemon.metadata.text import (
    SLASH,
    clean_existing,
    clean_existing_path,
    clean_hierarchy,
    engine_entry,
    fold,
    parse_engine_entry,
    unique,
)
from daemon.metadata.wanted import Wanted


@dataclass
class Options:
    mode: str = "merge"
    hierarchy_root: str = "Image Engine"
    digikam_tags: bool = False
    version: str = ""
    iptc: bool = True  # the target takes IPTC (JPEG, TIFF)
    exif_text: bool = True  # EXIF XPKeywords / ImageDescription may be updated (kept in step where present)
    create_exif_text: bool = False  # ... and created (the piexif fallback, for readers without XMP)
    text_description: bool = False  # [ocr] write_description: OCR text also becomes dc:description when empty
    people_keywords: bool = False  # [people] write_keywords: each name also a flat keyword (dc:subject)
    people_regions: bool = True  # [people] write_regions: MWG face regions and PersonInImage


@dataclass
class Plan:
    writes: dict[str, list[str]]  # tag -> complete new values ([] deletes the tag); only tags that change
    keywords: list[str]  # every flat keyword the file will carry
    engine_keywords: list[str]  # those the engine wrote (now or before)
    absent: dict[str, set[str]]  # values that must be gone after the write (replace mode)
    iptc_to_utf8: bool = False  # existing IPTC is not UTF-8: re-encode it while writing
    appends: dict[str, list[str]] = field(default_factory=dict)  # tag -> values added to a list (exiftool +=)
    present: dict[str, list[str]] = field(default_factory=dict)  # values that must be there after the write
    removes: dict[str, list[str]] = field(default_factory=dict)  # tag -> values taken out of a list (exiftool -=)

    @property
    def fields(self) -> list[str]:
        return sorted({*self.writes, *self.appends, *self.removes})

    @property
    def changes(self) -> bool:
        return bool(self.writes or self.appends or self.removes)


def _rejected_path(rejected: set[str]) -> Any:
    """A test for hierarchy paths whose last level is a rejected keyword ('Places|Beach' when 'beach' is)."""
    return lambda path: bool(rejected) and fold(path.rsplit("|", 1)[-1]) in rejected


def _first(existing: dict[str, list[str]], tag: str) -> str:
    values = existing.get(tag) or []
    return values[0] if values else ""


def make_plan(existing: dict[str, list[str]], wanted: Wanted, options: Options) -> Plan:
    """Every field that changes, in full: the file's keywords kept (less what is removed), the engine's added,
    the place, caption and text written where the user has none, the engine's own record kept in step."""
    existing = union_of_locations(existing)  # a keyword in any IPTC block is the user's
    replace = options.mode == "replace" and wanted.tagged
    previous = _Previous.read(existing)
    root = clean_hierarchy(options.hierarchy_root)
    wanted_paths = keyword_tree(wanted, root)
    if wanted.people is not None:
        wanted_paths.update(people_fields.people_paths(wanted.people))

    removed = _removed_keywords(previous, wanted, replace)
    removed_paths = _removed_paths(existing, previous, wanted, wanted_paths, root, replace)
    hierarchy = _kept_hierarchy(existing, removed_paths, wanted.rejected)
    keywords = _kept_keywords(existing, hierarchy, previous, removed)
    engine = _add_wanted_keywords(keywords, wanted, previous, removed, replace)
    engine_hierarchy = _add_wanted_paths(
        hierarchy, wanted_paths, existing, previous, removed_paths, wanted.rejected, replace
    )
    if wanted.people is not None and options.people_keywords:
        _add_people_keywords(keywords, engine, wanted)

    out = _Writes(existing)
    _put_keyword_fields(out, keywords, hierarchy, options)
    _put_place(out, wanted.place)
    appends, present, removes = _put_people(out, wanted, options)
    engine_caption = _put_caption_and_text(out, wanted, replace, options)
    engine_values = _engine_values(existing, wanted, options, replace, engine, engine_hierarchy, engine_caption)
    _put_engine_record(out, engine_values)
    _put_iptc_charset(out)
    return Plan(
        writes=out.writes,
        keywords=keywords,
        engine_keywords=[parse_engine_entry(e)[0] for e in engine_values[ENGINE_KEYWORDS]],
        absent=_absent(wanted, replace, removed, removed_paths),
        iptc_to_utf8=IPTC_CHARSET in out.writes and _latin1_iptc(existing),
        appends=appends,
        present=present,
        removes=removes,
    )


@dataclass(frozen=True)
class _Previous:
    """What the engine's namespace (XMP-imageengine) says the engine wrote before."""

    entries: dict[str, float | None]  # keyword spelling -> score
    keys: set[str]  # the keywords, folded
    paths: set[str]  # the hierarchy paths, folded

    @classmethod
    def read(cls, existing: dict[str, list[str]]) -> _Previous:
        entries = dict(parse_engine_entry(e) for e in existing.get(ENGINE_KEYWORDS, []))
        return cls(
            entries=entries,
            keys={fold(text) for text in entries},
            paths={fold(h) for h in existing.get(ENGINE_HIERARCHY, [])},
        )


@dataclass
class _Writes:
    """The tags to write: a value goes in only where it differs from what the file has."""

    existing: dict[str, list[str]]
    writes: dict[str, list[str]] = field(default_factory=dict)

    def put(self, tag: str, values: list[str], create: bool = True) -> None:
        current = self.existing.get(tag, [])
        if not current and not create:
            return
        if unique(current) != values or len(current) != len(values):
            self.writes[tag] = values


def _withdrawn(wanted: Wanted) -> set[str]:
    """Folded keywords the engine takes back (and does not want again this time)."""
    return {fold(text) for text in wanted.withdrawn} - {fold(w.text) for w in wanted.keywords}


def _removed_keywords(previous: _Previous, wanted: Wanted, replace: bool) -> set[str]:
    """Folded flat keywords to remove: the engine's old ones it no longer wants (replace), the rejected, the
    withdrawn (in any mode, but only where the engine's namespace says the engine wrote it: never the user's)."""
    wanted_keys = {fold(w.text) for w in wanted.keywords}
    removed = {k for k in previous.keys if k not in wanted_keys} if replace else set()
    return removed | wanted.rejected | (_withdrawn(wanted) & previous.keys)


def _removed_paths(
    existing: dict[str, list[str]],
    previous: _Previous,
    wanted: Wanted,
    wanted_paths: dict[str, str],
    root: str | None,
    replace: bool,
) -> set[str]:
    """Folded hierarchy paths the engine wrote before and now removes."""
    removed = {h for h in previous.paths if h not in wanted_paths} if replace else set()
    if wanted.user_category:
        removed |= _replaced_category_paths(existing, previous.paths, wanted_paths, root)
    withdrawn = _withdrawn(wanted)
    removed |= {h for h in previous.paths if h.rsplit("|", 1)[-1] in withdrawn and h not in wanted_paths}
    return removed


def _kept_hierarchy(existing: dict[str, list[str]], removed_paths: set[str], rejected: set[str]) -> list[str]:
    """The file's hierarchy paths (from every hierarchical field) that stay."""
    rejected_path = _rejected_path(rejected)
    user_paths = [
        *existing.get(HIERARCHY, []),
        *(_from_slashes(t) for t in existing.get(TAGS_LIST, [])),
        *(_from_slashes(t) for t in existing.get(LAST_KEYWORD, [])),
    ]
    return [
        h
        for h in unique([clean_existing_path(h) for h in user_paths])
        if fold(h) not in removed_paths and not rejected_path(h)
    ]


def _kept_keywords(
    existing: dict[str, list[str]], hierarchy: list[str], previous: _Previous, removed: set[str]
) -> list[str]:
    """The file's flat keywords that stay, with the leaves of the user's own hierarchy paths."""
    leaves = [h.rsplit("|", 1)[-1] for h in hierarchy if fold(h) not in previous.paths]
    flat_sources = [
        *existing.get(SUBJECT, []),
        *existing.get(IPTC_KEYWORDS, []),
        *(k for value in existing.get(XP_KEYWORDS, []) for k in value.split(";")),
        *leaves,
    ]
    return [k for k in unique([clean_existing(k) for k in flat_sources]) if fold(k) not in removed]


def _add_wanted_keywords(
    keywords: list[str], wanted: Wanted, previous: _Previous, removed: set[str], replace: bool
) -> dict[str, str]:
    """Appends the wanted keywords the file lacks to `keywords`; returns the engine's own, folded -> entry."""
    engine: dict[str, str] = (
        {} if replace else {fold(t): engine_entry(t, s) for t, s in previous.entries.items() if fold(t) not in removed}
    )
    present = {fold(k) for k in keywords}
    for keyword in wanted.keywords:
        key = fold(keyword.text)
        if key not in present:
            keywords.append(keyword.text)
            present.add(key)
            engine[key] = engine_entry(keyword.text, keyword.score)
        elif key in previous.keys:  # already there because the engine wrote it before: still ours
            spelling = next(k for k in keywords if fold(k) == key)
            engine[key] = engine_entry(spelling, keyword.score)
    return engine


def _add_wanted_paths(
    hierarchy: list[str],
    wanted_paths: dict[str, str],
    existing: dict[str, list[str]],
    previous: _Previous,
    removed_paths: set[str],
    rejected: set[str],
    replace: bool,
) -> list[str]:
    """Appends the engine's tree paths the file lacks to `hierarchy`; returns the engine's own paths."""
    rejected_path = _rejected_path(rejected)
    engine_hierarchy = (
        []
        if replace
        else [h for h in existing.get(ENGINE_HIERARCHY, []) if fold(h) not in removed_paths and not rejected_path(h)]
    )
    have_paths = {fold(h) for h in hierarchy}
    for key, text in wanted_paths.items():
        if key not in have_paths:
            hierarchy.append(text)
            have_paths.add(key)
            engine_hierarchy.append(text)
        elif key in previous.paths and key not in {fold(h) for h in engine_hierarchy}:
            engine_hierarchy.append(next(h for h in hierarchy if fold(h) == key))
    return engine_hierarchy


def _put_keyword_fields(out: _Writes, keywords: list[str], hierarchy: list[str], options: Options) -> None:
    """Every keyword field: XMP flat and hierarchical, digiKam, Microsoft, IPTC (what fits), EXIF XPKeywords."""
    out.put(SUBJECT, keywords, create=bool(keywords))
    out.put(HIERARCHY, hierarchy, create=bool(hierarchy))
    if options.digikam_tags or TAGS_LIST in out.existing:
        out.put(TAGS_LIST, [_tags_list(h) for h in hierarchy], create=bool(hierarchy) and options.digikam_tags)
    out.put(LAST_KEYWORD, [_tags_list(h) for h in hierarchy], create=False)
    iptc_keywords = [k for k in keywords if len(k.encode("utf-8")) <= IPTC_KEYWORD_BYTES]
    if options.iptc:
        out.put(IPTC_KEYWORDS, iptc_keywords, create=bool(iptc_keywords))
    if options.exif_text:
        joined = ";".join(keywords)
        out.put(XP_KEYWORDS, [joined] if joined else [], create=bool(joined) and options.create_exif_text)


def _add_people_keywords(keywords: list[str], engine: dict[str, str], wanted: Wanted) -> None:
    """Each person's name as a flat keyword too ([people] write_keywords), unless the user rejected it."""
    present = {fold(k) for k in keywords}
    for name in wanted.people.names if wanted.people else []:
        key = fold(name)
        if key not in present and key not in wanted.rejected:
            keywords.append(name)
            present.add(key)
            engine[key] = name


def _put_people(
    out: _Writes, wanted: Wanted, options: Options
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    """PersonInImage and the MWG regions of named faces (appended: other tools' regions stay as they are); the
    regions the engine wrote for faces that lost their name are taken out again."""
    if wanted.people is None or not options.people_regions:
        return {}, {}, {}
    gone = people_fields.region_removals(wanted.people)
    removes = {people_fields.APPEND_TAG: gone} if gone else {}
    persons = people_fields.person_in_image(out.existing, wanted.people)
    if persons is not None:
        out.put(people_fields.PERSON_IN_IMAGE, persons)
    writes, regions = people_fields.region_writes(out.existing, wanted.people)
    for tag, values in writes.items():
        out.put(tag, values)
    if not regions:
        return {}, {}, removes
    return {people_fields.APPEND_TAG: regions}, {people_fields.MWG_NAMES: wanted.people.names}, removes


def _put_place(out: _Writes, place: dict[str, str]) -> None:
    for tag, value in place.items():
        if not _first(out.existing, tag).strip():  # the user's own place names stay
            out.put(tag, [value])


def _put_caption_and_text(out: _Writes, wanted: Wanted, replace: bool, options: Options) -> str | None:
    """The caption (and OCR text as description, when asked); returns the caption to record as the engine's."""
    caption_writes, engine_caption = _caption(out.existing, wanted, replace, options)
    caption_writes.update(text_writes(out.existing, wanted.text, options.text_description, caption_writes))
    for tag, values in caption_writes.items():
        out.put(tag, values)
    return engine_caption


def _engine_values(
    existing: dict[str, list[str]],
    wanted: Wanted,
    options: Options,
    replace: bool,
    engine: dict[str, str],
    engine_hierarchy: list[str],
    engine_caption: str | None,
) -> dict[str, list[str]]:
    """The engine's own record (XMP-imageengine): what it wrote, by which model and version."""
    engine_values = {
        ENGINE_KEYWORDS: sorted(engine.values(), key=fold),
        ENGINE_HIERARCHY: engine_hierarchy,
        ENGINE_CAPTION: [engine_caption] if engine_caption else [],
        ENGINE_TEXT: engine_text(existing, wanted.text),
        ENGINE_CATEGORY: [wanted.category]
        if wanted.category
        else ([] if replace else existing.get(ENGINE_CATEGORY, [])[:1]),
    }
    ours = any(engine_values.values())
    engine_values[ENGINE_MODEL] = [wanted.model] if wanted.model else existing.get(ENGINE_MODEL, [])[:1]
    engine_values[ENGINE_MODEL] = engine_values[ENGINE_MODEL] if ours else []
    engine_values[ENGINE_VERSION] = [options.version] if ours and options.version else []
    return engine_values


def _put_engine_record(out: _Writes, engine_values: dict[str, list[str]]) -> None:
    """Written with any other change, or when the record itself changed (the version alone is no change)."""
    changed = any(unique(out.existing.get(t, [])) != v for t, v in engine_values.items() if t != ENGINE_VERSION)
    if out.writes or changed:
        for tag, values in engine_values.items():
            out.put(tag, values, create=bool(values))


def _put_iptc_charset(out: _Writes) -> None:
    """IPTC written is UTF-8, and declared so."""
    charset = _first(out.existing, IPTC_CHARSET).upper().replace("-", "")
    if any(tag.startswith("IPTC:") and values for tag, values in out.writes.items()) and charset != "UTF8":
        out.writes[IPTC_CHARSET] = ["UTF8"]


def _absent(wanted: Wanted, replace: bool, removed: set[str], removed_paths: set[str]) -> dict[str, set[str]]:
    """The values that must be gone after the write."""
    if replace or removed or removed_paths:
        return {SUBJECT: removed, HIERARCHY: removed_paths}
    if wanted.rejected:
        return {SUBJECT: set(wanted.rejected)}
    return {}


def _replaced_category_paths(
    existing: dict[str, list[str]], previous_hierarchy: set[str], wanted_paths: dict[str, str], root: str | None
) -> set[str]:
    """The engine's earlier category node, once the user has chosen another category (any mode)."""
    before = _first(existing, ENGINE_CATEGORY).strip()
    if not before:
        return set()
    node = fold((f"{root}|" if root else "") + before.replace("|", "/"))
    return {h for h in previous_hierarchy if h == node and h not in wanted_paths}


def keyword_tree(wanted: Wanted, root: str | None) -> dict[str, str]:
    """The engine's paths in one tree (README "Keyword tree"), case-folded -> spelling.

    Subjects keep the model's hierarchy ("Animals|Cats|Tabby Cat"), a keyword without one is a top-level node,
    facts live under "Photo|...", the category is a node only where no subject path starts with it; `root`
    (optional) holds the whole tree. Which entries are the engine's is recorded in XMP-imageengine, not here.
    """
    prefix = f"{root}|" if root else ""
    paths: dict[str, str] = {}
    for keyword in wanted.keywords:
        path = prefix + (keyword.hierarchy or keyword.text.replace("|", "/"))
        paths.setdefault(fold(path), path)
    if wanted.category:
        path = prefix + wanted.category.replace("|", "/")
        if not any(key == fold(path) or key.startswith(fold(path) + "|") for key in paths):
            paths[fold(path)] = path
    return paths


def _latin1_iptc(existing: dict[str, list[str]]) -> bool:
    """The file's undeclared IPTC text is Latin-1 and must be re-encoded when it is declared UTF-8.

    exiftool decodes undeclared IPTC as Latin-1. ASCII needs no conversion; text whose bytes are valid UTF-8 is
    UTF-8 already (many tools write it without saying so), and converting it would double-encode it.
    """
    for tag, values in existing.items():
        if not tag.startswith("IPTC:") or tag == IPTC_CHARSET:
            continue
        for value in values:
            if value.isascii():
                continue
            try:
                value.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return True
    return False


def _tags_list(path: str) -> str:
    """digiKam's TagsList (and Microsoft's LastKeywordXMP) use '/' between levels: one inside a level is escaped."""
    return "/".join(part.replace("/", SLASH) for part in path.split("|"))


def _from_slashes(path: str) -> str:
    return "|".join(part.replace(SLASH, "/") for part in path.split("/"))


def _caption(
    existing: dict[str, list[str]], wanted: Wanted, replace: bool, options: Options
) -> tuple[dict[str, list[str]], str | None]:
    """The engine writes a caption where there is none, or replaces one it wrote itself; never the user's."""
    current = _first(existing, DESCRIPTION) or _first(existing, IPTC_CAPTION)
    previous = _first(existing, ENGINE_CAPTION)
    ours = bool(current) and current == previous
    if wanted.user_caption:  # the user's word: theirs from now on (no engine caption recorded, so never replaced)
        if current == wanted.user_caption and not previous:
            return {}, None
        new: str | None = wanted.user_caption
    elif wanted.caption and (not current or ours):
        new = wanted.caption
    elif replace and ours and not wanted.caption:
        new = ""
    else:
        return {}, previous if ours else None
    writes = {DESCRIPTION: [new] if new else []}
    if options.iptc:
        fits = new is not None and len(new.encode("utf-8")) <= IPTC_CAPTION_BYTES
        writes[IPTC_CAPTION] = [new] if new and fits else []
    exif = _first(existing, EXIF_DESCRIPTION)
    if options.exif_text and ((exif and exif == previous) or (options.create_exif_text and not exif.strip())):
        writes[EXIF_DESCRIPTION] = [new] if new and new.isascii() else []  # EXIF ASCII: plain text only
    return writes, None if wanted.user_caption else (new or None)


def verify(plan: Plan, readback: dict[str, list[str]]) -> list[str]:
    """What the file does not say that the plan wrote (empty when the write took)."""
    problems = []
    for tag, values in plan.writes.items():
        found = readback.get(tag, [])
        if tag in (DESCRIPTION, IPTC_CAPTION, EXIF_DESCRIPTION, ENGINE_CAPTION, ENGINE_TEXT) and values:
            if not found or found[0] != values[0]:
                problems.append(f"{tag} reads back {found[:1]!r}, not {values[0][:40]!r}")
            continue
        missing = [value for value in values if value not in found]
        if missing:
            problems.append(f"{tag} lacks {', '.join(repr(v) for v in missing[:5])}")
        if not values and found:
            problems.append(f"{tag} still has {found[:3]!r}")
    for tag, values in plan.present.items():
        missing = [value for value in values if fold(value) not in {fold(v) for v in readback.get(tag, [])}]
        if missing:
            problems.append(f"{tag} lacks {', '.join(repr(v) for v in missing[:5])}")
    for tag, gone in plan.absent.items():
        left = [value for value in readback.get(tag, []) if fold(value) in gone]
        if left:
            problems.append(f"{tag} still has {', '.join(repr(v) for v in left[:5])}")
    return problems


def engine_text(existing: dict[str, list[str]], text: str | None) -> list[str]:
    """ImageEngineText: the newest OCR text; kept as it is when OCR did not run this time."""
    if text is None:
        return existing.get(ENGINE_TEXT, [])[:1]
    return [text] if text else []


def text_writes(
    existing: dict[str, list[str]], text: str | None, to_description: bool, caption_writes: dict[str, list[str]]
) -> dict[str, list[str]]:
    """dc:description from OCR text, when asked: only where there is none, or where it is text we put there."""
    if not to_description or not text or caption_writes.get(DESCRIPTION):
        return {}
    current = _first(existing, DESCRIPTION) or _first(existing, IPTC_CAPTION)
    if current and current != _first(existing, ENGINE_TEXT):
        return {}
    return {DESCRIPTION: [text]}
