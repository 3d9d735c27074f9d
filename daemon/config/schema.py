"""TOML tables -> the config's dataclasses: each value converted to its field's type, unknown keys named with the
closest known one, missing required keys listed. Problems are collected, not raised.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal


def build(cls: type, raw: Any, prefix: str, source: Path, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{source}: {prefix.rstrip('.') or '(top)'}: expected a table, got {raw!r}")
        return None
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            problems.append(f"{source}: {dotted}: unknown key{hint}")
            continue
        converted = convert(hints[key], value, dotted, source, problems)
        if converted is not INVALID:
            values[key] = converted
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in raw
    ]
    for name in missing:
        problems.append(f"{source}: {prefix}{name}: required key is missing")
    if missing or len(values) != sum(1 for k in raw if k in known):
        return None
    return cls(**values)


INVALID = object()


def convert(hint: Any, value: Any, key: str, source: Path, problems: list[str]) -> Any:
    def bad(expected: str) -> object:
        problems.append(f"{source}: {key}: expected {expected}, got {value!r}")
        return INVALID

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        return convert(inner[0], value, key, source, problems)
    if origin is Literal:
        if value not in args:
            return bad("one of " + ", ".join(repr(a) for a in args))
        return value
    if origin is list:
        if not isinstance(value, list):
            return bad("a list")
        items = [convert(args[0], item, f"{key}[{i}]", source, problems) for i, item in enumerate(value)]
        return INVALID if any(item is INVALID for item in items) else items
    if origin is dict:
        if not isinstance(value, dict):
            return bad("a table")
        result = {}
        for sub_key, sub_value in value.items():
            converted = convert(args[1], sub_value, f"{key}.{sub_key}", source, problems)
            if converted is INVALID:
                return INVALID
            result[str(sub_key)] = converted
        return result
    if dataclasses.is_dataclass(hint):
        built = build(hint, value, f"{key}.", source, problems)
        return INVALID if built is None else built
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            return bad("a path string")
        return Path(os.path.expandvars(value)).expanduser()
    if hint is bool:
        return value if isinstance(value, bool) else bad("true or false")
    if hint is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else bad("an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return bad("a number")
    if hint is str:
        return value if isinstance(value, str) else bad("a string")
    raise TypeError(f"config schema has an unsupported type at {key}: {hint!r}")
