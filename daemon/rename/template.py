"""Rename templates: parsed once at config load (unknown fields and bad formats are config errors), rendered
per file into legal path components. `/` outside braces makes folders; a field's value never does.
"""

from __future__ import annotations

import datetime as dt
import difflib
import string
from dataclasses import dataclass
from typing import Any

from daemon.rename.safety import clean_text, legal_name

DEFAULT_DATE = "%Y%m%d_%H%M%S"
# name -> what its format spec may be
FIELDS: dict[str, str] = {
    "taken": "a strftime format, e.g. {taken:%Y-%m-%d}",
    "taken_source": "lower or upper",
    "make": "lower or upper",
    "model": "lower or upper",
    "category": "lower or upper",
    "keywords": "how many (default 3) and a separator, e.g. {keywords:2} or {keywords:3,_}",
    "stem": "lower or upper",
    "ext": "none",
    "hash": "how many hex digits (4-64, default 8), e.g. {hash:12}",
    "counter": "none",
}
TEXT_FIELDS = frozenset({"taken_source", "make", "model", "category", "stem"})
TEXT_SPECS = ("", "lower", "upper")


class TemplateError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Field:
    name: str
    spec: str


Token = str | Field


@dataclass(frozen=True)
class Template:
    source: str
    folders: tuple[tuple[Token, ...], ...]
    name: tuple[Token, ...]

    @property
    def has_counter(self) -> bool:
        return any(isinstance(token, Field) and token.name == "counter" for token in self.name)

    def render(self, values: dict[str, Any], counter: int, placeholder: str, name_only: bool = False) -> list[str]:
        """Legal path components for one file; `counter` 0 renders no counter, n renders `_n`."""
        folders = [] if name_only else [_render_folder(tokens, values, placeholder) for tokens in self.folders]
        return [*folders, self._render_name(values, counter, placeholder)]

    def _render_name(self, values: dict[str, Any], counter: int, placeholder: str) -> str:
        mark = f"_{counter}" if counter else ""
        if self.has_counter:
            index = next(i for i, t in enumerate(self.name) if isinstance(t, Field) and t.name == "counter")
            head = _join(self.name[:index], values, placeholder)
            tail = _join(self.name[index + 1 :], values, placeholder)
        else:
            whole = _join(self.name, values, placeholder)
            ext = "." + str(values.get("ext") or "")
            cut = len(whole) - len(ext) if ext != "." and whole.endswith(ext) else whole.rfind(".")
            head, tail = (whole[:cut], whole[cut:]) if cut > 0 else (whole, "")
        return legal_name(head + mark + tail, keep_tail=len(mark) + len(clean_text(tail)), fallback=placeholder)


def _render_folder(tokens: tuple[Token, ...], values: dict[str, Any], placeholder: str) -> str:
    return legal_name(_join(tokens, values, placeholder), fallback=placeholder)


def _join(tokens: tuple[Token, ...], values: dict[str, Any], placeholder: str) -> str:
    return "".join(token if isinstance(token, str) else field_text(token, values, placeholder) for token in tokens)


def field_text(field: Field, values: dict[str, Any], placeholder: str) -> str:
    """One field's value as text with no separators in it; `placeholder` when the value is missing."""
    value = values.get(field.name)
    if field.name == "taken":
        text = value.strftime(field.spec or DEFAULT_DATE) if isinstance(value, dt.datetime) else ""
    elif field.name == "keywords":
        count, separator = _keyword_spec(field.spec)
        words = [clean_text(str(word)).strip() for word in (value or [])]
        text = separator.join([word for word in words if word][:count])
    elif field.name == "hash":
        text = str(value or "")[: int(field.spec or 8)]
    else:
        text = "" if value is None else str(value)
        text = text.lower() if field.spec == "lower" else text.upper() if field.spec == "upper" else text
    text = clean_text(text).strip()
    return text or clean_text(placeholder)


def _keyword_spec(spec: str) -> tuple[int, str]:
    count, comma, separator = spec.partition(",")
    return (int(count) if count else 3), (separator if comma else "-")


def parse_template(text: str) -> Template:
    """Parse and check a template; TemplateError lists every problem at once."""
    problems: list[str] = []
    if not text.strip():
        raise TemplateError(["is empty"])
    if text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":" and text[0].isalpha()):
        problems.append("must be a relative path (it is placed under the library root)")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError([f"cannot parse: {exc} (write {{{{ and }}}} for literal braces)"]) from None
    components: list[list[Token]] = [[]]
    for literal, name, spec, conversion in parsed:
        pieces = literal.replace("\\", "/").split("/")
        if pieces[0]:
            components[-1].append(pieces[0])
        for piece in pieces[1:]:
            components.append([piece] if piece else [])
        if name is None:
            continue
        problem = _check_field(name, spec or "", conversion)
        if problem:
            problems.append(problem)
        components[-1].append(Field(name, spec or ""))
    for index, tokens in enumerate(components):
        literal_only = all(isinstance(t, str) for t in tokens)
        joined = "".join(t for t in tokens if isinstance(t, str))
        if not tokens:
            problems.append("has an empty folder name (// or a / at the start or end)")
        elif literal_only and joined.strip() in (".", ".."):
            problems.append(f"must not contain a {joined.strip()!r} folder")
        if index < len(components) - 1 and any(isinstance(t, Field) and t.name == "counter" for t in tokens):
            problems.append("{counter} belongs in the file name (the last part), not in a folder")
    name = components[-1]
    if not any(isinstance(t, Field) and t.name == "ext" for t in name):
        problems.append("the file name (after the last /) must contain {ext}, or files lose their extension")
    if sum(1 for t in name if isinstance(t, Field) and t.name == "counter") > 1:
        problems.append("{counter} may appear only once")
    if problems:
        raise TemplateError(problems)
    return Template(text, tuple(tuple(c) for c in components[:-1]), tuple(name))


def _check_field(name: str, spec: str, conversion: str | None) -> str | None:
    if name not in FIELDS:
        close = difflib.get_close_matches(name, sorted(FIELDS), n=1)
        hint = f" (did you mean {{{close[0]}}}?)" if close else ""
        return f"unknown field {{{name}}}{hint}; fields: {', '.join(FIELDS)}"
    if conversion is not None:
        return f"{{{name}!{conversion}}}: conversions are not supported"
    if "{" in spec or "}" in spec:
        return f"{{{name}:{spec}}}: nested fields are not supported"
    if name == "taken":
        if spec and "%" not in spec:
            return f"{{taken:{spec}}}: a date format needs % codes, e.g. {{taken:%Y-%m-%d}}"
        try:
            dt.datetime(2001, 2, 3, 4, 5, 6).strftime(spec or DEFAULT_DATE)
        except ValueError as exc:
            return f"{{taken:{spec}}}: bad date format ({exc})"
    elif name in TEXT_FIELDS:
        if spec not in TEXT_SPECS:
            return f"{{{name}:{spec}}}: format must be lower or upper"
    elif name == "keywords":
        count, _, _separator = spec.partition(",")
        if count and not (count.isdigit() and 1 <= int(count) <= 50):
            return f"{{keywords:{spec}}}: expected a count 1-50, optionally followed by ,separator"
    elif name == "hash":
        if spec and not (spec.isdigit() and 4 <= int(spec) <= 64):
            return f"{{hash:{spec}}}: expected a number of hex digits, 4-64"
    elif spec:
        return f"{{{name}:{spec}}}: this field takes no format"
    return None
