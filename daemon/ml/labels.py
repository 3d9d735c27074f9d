"""Label files and the shipped ImageNet keyword table: raw model labels -> plain keywords, hierarchy, category.

Reads `data/imagenet_keywords.csv` (made by scripts/make_imagenet_keywords.py), plain label lists and WD14/JoyTag CSVs.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from daemon.ml.base import LabelInfo

_INDEXED = re.compile(r"^\s*(\d+)\s*[,:\t ]\s*(.+)$")
# WD14 tag categories: 0 general, 3 copyright, 4 character, 9 rating (never a keyword).
_WD14_RATING = "9"


@dataclass(frozen=True)
class ImagenetClass:
    index: int
    label: str
    info: LabelInfo


@functools.cache
def imagenet_classes() -> tuple[ImagenetClass, ...]:
    """The 1000 classes in model output order, with their keywords, hierarchy and default category."""
    text = (resources.files("daemon.ml") / "data" / "imagenet_keywords.csv").read_text(encoding="utf-8")
    classes = []
    for row in csv.DictReader(text.splitlines()):
        keywords = [k for k in row["keywords"].split(";") if k]
        classes.append(
            ImagenetClass(int(row["index"]), row["label"], LabelInfo(keywords, row["hierarchy"], row["category"]))
        )
    assert [c.index for c in classes] == list(range(1000)), "imagenet_keywords.csv must list classes 0..999 in order"
    return tuple(classes)


@functools.cache
def imagenet_by_label() -> dict[str, LabelInfo]:
    return {c.label: c.info for c in imagenet_classes()}


@dataclass
class LabelSet:
    """A model's output labels: names in output order, how scores combine, and what each label means."""

    names: list[str]
    multi_label: bool
    infos: dict[str, LabelInfo]

    def describe(self, label: str) -> LabelInfo:
        return self.infos.get(label) or LabelInfo([label])


def read_label_file(path: Path) -> LabelSet:
    """One label per line (optionally `index,name[, synonyms]`), or a WD14/JoyTag CSV (tag_id,name,category,count)."""
    text = path.read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: the labels file is empty")
    header = [cell.strip().lower() for cell in lines[0].split(",")]
    if "name" in header and len(header) >= 2:
        return _tag_csv(path, text)
    names = []
    for line in lines:
        match = _INDEXED.match(line)
        names.append((match.group(2) if match else line).split(",")[0].strip())
    return LabelSet(names, multi_label=False, infos=_imagenet_infos(names))


def _imagenet_infos(names: list[str]) -> dict[str, LabelInfo]:
    """A 1000-name list in ImageNet order gets the shipped keyword table (matched by position)."""
    if len(names) != 1000:
        return {}
    classes = imagenet_classes()
    same = sum(
        1
        for name, c in zip(names, classes, strict=True)
        if name.lower() in (c.label.lower(), c.label.split(" (")[0].lower())
    )
    if same < 950:
        return {}
    return {name: c.info for name, c in zip(names, classes, strict=True)}


def _tag_csv(path: Path, text: str) -> LabelSet:
    reader = csv.DictReader(text.splitlines())
    names: list[str] = []
    infos: dict[str, LabelInfo] = {}
    for row in reader:
        name = (row.get("name") or "").strip()
        if not name:
            raise ValueError(f"{path}: line {reader.line_num} has no name")
        names.append(name)
        category = (row.get("category") or "").strip()
        keyword = name.replace("_", " ")
        if category == _WD14_RATING:
            infos[name] = LabelInfo([], None, None)
        elif category == "4":
            infos[name] = LabelInfo([keyword], f"Characters|{keyword}", None)
        else:
            infos[name] = LabelInfo([keyword])
    return LabelSet(names, multi_label=True, infos=infos)
