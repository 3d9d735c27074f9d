"""Stage `tag`: AI keywords, category, caption, image facts and an embedding per photo, in GPU-sized batches.

Works on the reduced copies; a missing model makes jobs wait (with the fix in the reason), never fail.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, TypedDict

from daemon.errors import WaitingError
from daemon.ml.base import ModelMissing
from daemon.ml.preprocess import map_images
from daemon.ml.session import GpuMemoryExhausted, ModelSession
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.facts import fact_keywords, image_facts
from daemon.pipeline.vocabulary import Vocabulary
from daemon.store import tagging
from daemon.store.queue import Job
from daemon.store.tagging import EMBEDDING_KEY

if TYPE_CHECKING:
    from pathlib import Path

    from daemon.config import TaggingConfig
    from daemon.learn.apply import LearnedKeywords

MODEL_WAIT_SECONDS = 30.0
GPU_WAIT_SECONDS = 60.0


class TagResult(TypedDict, total=False):
    """The tag stage's result; the embedding rides along under EMBEDDING_KEY ("_embedding", never in the JSON)."""

    backend: str
    model: str
    keywords: list[dict[str, Any]]  # keyword, score, source, hierarchy
    category: str | None
    category_score: float | None
    caption: str | None
    facts: dict[str, Any]  # sharpness, blurry, exposure, colours, orientation
    withdrawn: list[str]  # taught keywords taken back (`untaught`): the metadata stage removes what it wrote


class TagStage(Stage):
    name = "tag"
    pool = "gpu"
    heavy = True

    def __init__(self, config: TaggingConfig, session: ModelSession, learned: LearnedKeywords | None = None):
        self.config = config
        self.session = session
        self.learned = learned  # keywords the user taught (daemon.learn), applied to each new embedding
        self.vocabulary = Vocabulary(config)
        self.batch_size = max(1, config.batch_size)

    def available(self) -> str | None:
        return self.session.missing()

    def ready(self) -> bool:
        return self.session.loaded

    def prepare(self) -> None:
        self.session.load()

    def run_batch(self, items: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
        outcomes: list[dict[str, Any] | BaseException | None] = [None] * len(items)
        ready: list[tuple[int, Any, dict[str, Any]]] = []
        for index, item in enumerate(items):
            try:
                ready.append((index, item.reduced(), {}))
            except Exception as exc:  # noqa: BLE001 - one unreadable copy fails that photo only
                outcomes[index] = exc
        facts = map_images(image_facts, [image for _, image, _ in ready])
        ready = [(index, image, fact) for (index, image, _), fact in zip(ready, facts, strict=True)]
        if ready:
            predictions: list[Any] = []
            failure: WaitingError | None = None
            try:
                predictions = self.session.predict([image for _, image, _ in ready])
            except ModelMissing as exc:
                failure = WaitingError(str(exc), MODEL_WAIT_SECONDS)
            except GpuMemoryExhausted as exc:
                failure = WaitingError(str(exc), GPU_WAIT_SECONDS)
            for position, (index, _, facts) in enumerate(ready):
                outcomes[index] = failure or self._result(predictions[position], facts, items[index].job.file_id)
        return [outcome if outcome is not None else RuntimeError("no outcome") for outcome in outcomes]

    def _result(self, prediction: Any, facts: dict[str, Any], file_id: int | None = None) -> dict[str, Any]:
        backend = self.session.backend()
        describe, exclusive = backend.describe, backend.exclusive
        keywords = self.vocabulary.keywords(
            prediction,
            describe,
            exclusive,
            fact_keywords(facts, self.config.format_keywords) if self.config.fact_keywords else [],
        )
        category, category_score = self.vocabulary.category(prediction, describe, exclusive)
        result: dict[str, Any] = {
            "backend": backend.name,
            "model": backend.model_id,
            "keywords": [keyword.to_json() for keyword in keywords],
            "category": category,
            "category_score": category_score,
            "caption": prediction.caption,
            "facts": facts,
        }
        if prediction.embedding is not None:
            result[EMBEDDING_KEY] = prediction.embedding
        if self.learned is not None:
            result["keywords"] = self.learned.model_keywords(result["keywords"])
            result["keywords"] += self.learned.keywords(backend.model_id, prediction.embedding, file_id)
        return result

    def record(self, conn: sqlite3.Connection, job: Job, result: TagResult) -> None:  # type: ignore[override]
        tagging.record_tag(conn, job, result)

    def close(self) -> None:
        self.session.close()


def build_tag_stage(config: TaggingConfig, db_path: Path, cache_dir: Path) -> TagStage:
    """The stage with its lazily loaded model session; nothing heavy is imported here."""
    from daemon.learn.apply import LearnedKeywords
    from daemon.ml.registry import build_backend
    from daemon.store.embeddings import TextEmbeddingCache
    from daemon.store.tagging import text_cache_connector

    cache = TextEmbeddingCache(text_cache_connector(db_path))
    session = ModelSession(config, lambda: build_backend(config, cache, cache_dir))
    return TagStage(config, session, LearnedKeywords(text_cache_connector(db_path)))
