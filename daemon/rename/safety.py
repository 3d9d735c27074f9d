"""The one place where rendered names are made safe: legal on Windows, macOS and Linux, and kept inside a root.

Every path the rename stage or undo writes to passes `legal_name` per component and `inside` for the whole.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

FORBIDDEN = frozenset('<>:"/\\|?*')
RESERVED = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "CONIN$",
        "CONOUT$",
        *(f"COM{n}" for n in range(1, 10)),
        *(f"LPT{n}" for n in range(1, 10)),
    }
)
MAX_COMPONENT_BYTES = 255
REPLACEMENT = "_"


class PathEscapeError(ValueError):
    """A rendered path would land outside the folder it must stay in."""


def clean_text(text: str) -> str:
    """NFC, and every separator, Windows-forbidden or control character replaced: safe inside one name."""
    text = unicodedata.normalize("NFC", text)
    return "".join(REPLACEMENT if ch in FORBIDDEN or ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)


def legal_name(name: str, keep_tail: int = 0, fallback: str = REPLACEMENT) -> str:
    """One path component, legal everywhere: no forbidden or control characters, no reserved device name
    (CON, nul.txt, ...), no leading dot (hidden) or space, no trailing dot or space, at most 255 UTF-8 bytes.

    `keep_tail`: that many characters at the end (counter and extension) survive shortening.
    """
    name = clean_text(name).lstrip(" ")
    if name.startswith("."):
        name = REPLACEMENT + name
    name = _shorten(name, keep_tail).rstrip(" .")
    if not name:
        name = clean_text(fallback).strip(" .") or REPLACEMENT
    if name.split(".", 1)[0].rstrip(" ").upper() in RESERVED:
        name = _shorten(REPLACEMENT + name, keep_tail).rstrip(" .")
    return name


def _shorten(name: str, keep_tail: int) -> str:
    """`name` in at most MAX_COMPONENT_BYTES, cut (at a character boundary) before its last `keep_tail` chars."""
    if len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return name
    keep = min(keep_tail, len(name))
    head, tail = name[: len(name) - keep], name[len(name) - keep :]
    if len(tail.encode("utf-8")) > MAX_COMPONENT_BYTES - 1:
        tail = _cut_front(tail, MAX_COMPONENT_BYTES - 1)
    budget = MAX_COMPONENT_BYTES - len(tail.encode("utf-8"))
    return head.encode("utf-8")[:budget].decode("utf-8", "ignore") + tail


def _cut_front(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    return encoded[len(encoded) - limit :].decode("utf-8", "ignore")


def inside(root: Path, parts: list[str], resolve: bool = True) -> Path:
    """`root` joined with legal components, refused when it would resolve (symlinks included) outside `root`.

    `resolve=False` only for one plain name in a folder already checked: a name that exists (a symlink
    too) is taken anyway, so it is never written through.
    """
    for part in parts:
        if part in ("", ".", "..") or "/" in part or "\\" in part or (os.altsep and os.altsep in part):
            raise PathEscapeError(f"unsafe path component {part!r}")
    target = root.joinpath(*parts)
    if resolve or len(parts) != 1:
        check_inside(root, target)
    return target


def check_inside(root: Path, target: Path) -> None:
    resolved_root = root.resolve()
    resolved = target.resolve()
    if resolved != resolved_root and not resolved.is_relative_to(resolved_root):
        raise PathEscapeError(f"{target} resolves to {resolved}, outside {root}")
