"""The zero-shot vocabulary of the clip backend: the built-in concept list plus the user's keywords, and prompts.

Each built-in concept has a hierarchy path (for XMP-lr:HierarchicalSubject) and a top-level category.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from daemon.ml.base import LabelInfo

VOCABULARY_FILE = Path(__file__).with_name("data") / "clip_vocabulary.csv"
DEFAULT_TEMPLATES = (
    "a photo of {}.",
    "a photo of the {}.",
    "a close-up photo of {}.",
    "a picture showing {}.",
)


@dataclass
class Vocabulary:
    concepts: list[str]
    info: dict[str, LabelInfo] = field(default_factory=dict)

    @classmethod
    def build(cls, keywords: list[str], path: Path = VOCABULARY_FILE) -> Vocabulary:
        """Built-in concepts first, then each user keyword not already there (compared case-insensitively)."""
        concepts: list[str] = []
        info: dict[str, LabelInfo] = {}
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                concept = row["concept"]
                concepts.append(concept)
                info[concept] = LabelInfo([concept], row.get("hierarchy") or None, row.get("category") or None)
        known = {concept.casefold() for concept in concepts}
        for keyword in keywords:
            keyword = " ".join(keyword.split())
            if keyword and keyword.casefold() not in known:
                known.add(keyword.casefold())
                concepts.append(keyword)
                info[keyword] = LabelInfo([keyword])
        return cls(concepts, info)

    def describe(self, label: str) -> LabelInfo:
        return self.info.get(label) or LabelInfo([label])


def templates_of(configured: list[str]) -> list[str]:
    """The configured prompt templates, or the defaults; each must contain "{}"."""
    templates = [template for template in configured if template.strip()] or list(DEFAULT_TEMPLATES)
    for template in templates:
        if "{}" not in template:
            raise ValueError(f"[tagging] prompt_templates: {template!r} has no '{{}}' for the concept")
    return templates


def prompts(concepts: list[str], templates: list[str]) -> list[str]:
    """Concept-major: the prompts of concept i are rows i*len(templates) .. (i+1)*len(templates)-1."""
    return [template.format(concept) for concept in concepts for template in templates]


def cache_key(kind: str, model: str, model_fingerprint: str, texts: list[str], templates: list[str]) -> str:
    """Key of one set of averaged text embeddings: changes with the model, its weights, the texts or templates."""
    digest = hashlib.sha256()
    for part in (kind, model, model_fingerprint, "\x1e".join(templates), "\x1e".join(texts)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return f"clip-text:{kind}:{digest.hexdigest()}"
