"""Helpers for the metadata tests: corpus copies, work items built from stage results, exiftool read-backs.

Work items carry result dicts the tests write themselves: that is the stage's input contract (tag, dedup).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from daemon.config import MetadataConfig
from daemon.pipeline.base import WorkItem
from daemon.pipeline.metadata import MetadataStage
from daemon.store.queue import Job
from daemon.tools.exiftool import CONFIG_FILE
from tests.support import corpus

_ids = itertools.count(1)


def copy(relative: str, folder: Path, name: str | None = None) -> Path:
    """A writable copy of a corpus file (the corpus itself is read-only)."""
    target = folder / (name or Path(relative).name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(corpus() / relative, target)
    os.chmod(target, 0o644)
    return target


def item(path: Path, tag: dict[str, Any] | None = None, dedup: dict[str, Any] | None = None) -> WorkItem:
    number = next(_ids)
    results = {"tag": tag, "dedup": dedup}
    job = Job(number, number, str(path), str(path.parent), "fp", "metadata", 0, 1, "test")
    return WorkItem(job=job, results=results.get, reduced_loader=lambda _: None)  # type: ignore[arg-type]


def tag_result(*keywords: str | tuple[str, float, str | None], category: str | None = None, caption: str | None = None):
    entries = []
    for keyword in keywords:
        text, score, hierarchy = keyword if isinstance(keyword, tuple) else (keyword, 0.5, None)
        entries.append({"keyword": text, "score": score, "hierarchy": hierarchy, "source": "auto"})
    return {
        "backend": "imagenet",
        "model": "efficientnet-lite0",
        "keywords": entries,
        "category": category,
        "category_score": 0.8 if category else None,
        "caption": caption,
        "facts": {},
    }


def make_stage(folder: Path, **settings: Any) -> MetadataStage:
    return MetadataStage(MetadataConfig(**settings), "duplicate", folder / "guard")


def exif(path: Path, *tags: str, config: bool = True) -> dict[str, list[str]]:
    """What the exiftool command line reads back (-G1 names; every value a list of strings)."""
    return exif_many([path], *tags, config=config)[0]


def exif_many(paths: list[Path], *tags: str, config: bool = True) -> list[dict[str, list[str]]]:
    command = ["exiftool", *(["-config", str(CONFIG_FILE)] if config else []), "-j", "-G1", "-a", "-struct"]
    result = subprocess.run([*command, *(f"-{t}" for t in tags), *map(str, paths)], capture_output=True, text=True)
    assert result.stdout, result.stderr
    rows = {row["SourceFile"]: row for row in json.loads(result.stdout)}
    return [
        {k: [str(v) for v in (row[k] if isinstance(row[k], list) else [row[k]])] for k in row if k != "SourceFile"}
        for row in (rows[str(path)] for path in paths)
    ]


def keywords_of(path: Path) -> list[str]:
    found = exif(path, "XMP-dc:Subject")
    return found.get("XMP-dc:Subject", [])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folded(values: list[str]) -> set[str]:
    return {value.casefold() for value in values}
