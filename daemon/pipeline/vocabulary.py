"""Keyword policy: raw model labels -> the keywords, category and scores written for a photo (no torch here).

Applies `[tagging]` top_k, synonyms, exclude, allow_only, threshold(s) and max_keywords, and de-duplicates keywords.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.ml.base import ImagePrediction, LabelInfo
from daemon.pipeline.keyword_tree import broader_path

if TYPE_CHECKING:
    from daemon.config import TaggingConfig

OTHER = "Other"


@dataclass
class Keyword:
    keyword: str
    score: float | None  # None for a fact (blurry, dark, ...): facts sort after every subject
    hierarchy: str | None

    def to_json(self) -> dict[str, Any]:
        score = None if self.score is None else round(self.score, 4)
        return {"keyword": self.keyword, "score": score, "hierarchy": self.hierarchy, "source": "auto"}


class Vocabulary:
    def __init__(self, config: TaggingConfig):
        self.config = config
        self.synonyms = {key.strip().casefold(): value.strip() for key, value in config.synonyms.items()}
        self.excluded = {word.strip().casefold() for word in config.exclude}
        self.excluded |= {self.canonical(word).casefold() for word in config.exclude}
        self.allowed = {self.canonical(word).casefold() for word in config.keywords} if config.allow_only else None
        self.thresholds = {self.canonical(word).casefold(): value for word, value in config.thresholds.items()}
        self.categories = {name.strip().casefold(): name.strip() for name in config.categories}

    def canonical(self, keyword: str) -> str:
        keyword = " ".join(keyword.split())
        return self.synonyms.get(keyword.casefold(), keyword)

    def admits(self, keyword: str, score: float) -> bool:
        key = keyword.casefold()
        if not key or key in self.excluded:
            return False
        if self.allowed is not None and key not in self.allowed:
            return False
        return score >= self.thresholds.get(key, self.config.threshold)

    def keywords(
        self,
        prediction: ImagePrediction,
        describe: Callable[[str], LabelInfo],
        exclusive: bool,
        facts: list[str] | None = None,
    ) -> list[Keyword]:
        """The photo's keywords, best first: model keywords (top_k labels), then fact keywords, at most max_keywords."""
        merged: dict[str, Keyword] = {}
        for label, score in prediction.labels[: self.config.top_k]:
            info = describe(label)
            for position, raw in enumerate(info.keywords):
                word = self.canonical(raw)
                hierarchy = _renamed(info.hierarchy, raw, word) if position == 0 else broader_path(info.hierarchy, word)
                known = merged.get(word.casefold())
                if known is None:
                    merged[word.casefold()] = Keyword(word, score, hierarchy)
                    continue
                if exclusive:  # one softmax: P(dog) = P(golden retriever) + P(labrador) + ...
                    known.score = min(1.0, known.score + score)
                elif score > known.score:
                    known.score = score
                known.hierarchy = known.hierarchy or hierarchy
        chosen = sorted(
            (k for k in merged.values() if self.admits(k.keyword, k.score)), key=lambda k: (-k.score, k.keyword)
        )
        taken = {k.keyword.casefold() for k in chosen}
        extra = []
        for raw in facts or []:
            word = self.canonical(raw)
            if word.casefold() not in taken and self.admits(word, 1.0):
                taken.add(word.casefold())
                extra.append(Keyword(word, None, _fact_hierarchy(raw, word)))  # a fact, not a model score
        room = max(0, self.config.max_keywords - len(extra))
        return (chosen[:room] + extra)[: self.config.max_keywords]

    def category(
        self, prediction: ImagePrediction, describe: Callable[[str], LabelInfo], exclusive: bool
    ) -> tuple[str | None, float | None]:
        """Zero-shot categories when the backend gave them, else the group of the labels' summed score."""
        if prediction.categories:
            name, score = max(prediction.categories, key=lambda pair: pair[1])
            return name, round(float(score), 4)
        totals: dict[str, float] = {}
        for label, score in prediction.labels:
            group = self.group_of(describe(label))
            if group is None:
                continue
            totals[group] = totals.get(group, 0.0) + score if exclusive else max(totals.get(group, 0.0), score)
        if not totals:
            return None, None
        name = max(totals, key=lambda key: totals[key])
        return name, round(min(1.0, totals[name]), 4)

    def group_of(self, info: LabelInfo) -> str | None:
        """The label's category: its default, or with `[tagging] categories` the nearest listed group, or Other."""
        if not self.categories:
            return info.category
        path = (info.hierarchy or "").split("|")[:-1]
        for group in [*reversed(path), info.category or ""]:
            if group.casefold() in self.categories:
                return self.categories[group.casefold()]
        return OTHER


def _renamed(hierarchy: str | None, raw: str, word: str) -> str | None:
    """A synonym renames the leaf of the hierarchy too ("Animals|Cats|Tabby Cat" -> "Animals|Cats|cat")."""
    if hierarchy is None or raw == word:
        return hierarchy
    parent = hierarchy.rsplit("|", 1)[0] if "|" in hierarchy else ""
    return f"{parent}|{word}" if parent else word


def _fact_hierarchy(raw: str, word: str) -> str | None:
    from daemon.pipeline.facts import FACT_HIERARCHY

    return _renamed(FACT_HIERARCHY.get(raw), raw, word)
