"""The `analyze` stage: every enabled analyzer on each photo; one that raises fails only its own part of the job.

Its result is {"analyzers": {name: findings | {"error": reason}}}; `record` hands it to store/analysis.py (OCR text).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, TypedDict

from daemon.analyzers import Analyzer, Photo
from daemon.errors import GoneError, WaitingError
from daemon.ml.base import ModelMissing
from daemon.pipeline.base import Stage, WorkItem
from daemon.store import analysis
from daemon.store.queue import Job

log = logging.getLogger("image_engine.analyze")


class AnalyzeResult(TypedDict):
    analyzers: dict[str, dict[str, Any]]  # name -> Findings.to_json() + {"model"}, or {"model", "error"}


class AnalyzeStage(Stage):
    name = "analyze"
    pool = "analyze"
    heavy = True

    def __init__(self, analyzers: list[Analyzer], max_pixels: int):
        self.analyzers = analyzers
        self.max_pixels = max_pixels
        self.batch_size = max((analyzer.batch_size for analyzer in analyzers), default=1)
        self.heavy = any(analyzer.heavy for analyzer in analyzers)  # quality alone is numpy: no GPU/work-hours gate

    def available(self) -> str | None:
        for analyzer in self.analyzers:
            reason = analyzer.available()
            if reason:
                return f"analyzer {analyzer.name}: {reason}"
        return None

    def run(self, item: WorkItem) -> dict[str, Any]:
        photo = Photo(
            path=item.path,
            reduced=item.reduced,
            larger=lambda size: self.larger(item, size),
            facts=item.result("probe"),
            results=item.result,
        )
        found: dict[str, Any] = {}
        for analyzer in self.analyzers:
            try:
                found[analyzer.name] = {"model": analyzer.model, **analyzer.analyze(photo).to_json()}
            except (GoneError, WaitingError):
                raise
            except ModelMissing as exc:
                raise WaitingError(f"analyzer {analyzer.name}: {exc}", 60.0) from exc
            except Exception as exc:  # noqa: BLE001 - an analyzer's failure is its own, the photo's job goes on
                reason = f"analyzer {analyzer.name} failed: {type(exc).__name__}: {exc}"
                log.warning(
                    "analyzer failed", extra={"event": "analyzer_failed", "path": str(item.path), "error": reason}
                )
                found[analyzer.name] = {"model": analyzer.model, "error": reason}
        return {"analyzers": found}

    def record(self, conn: sqlite3.Connection, job: Job, result: AnalyzeResult) -> None:  # type: ignore[override]
        analysis.record_analyze(conn, job, result)

    def larger(self, item: WorkItem, size: int) -> Any:
        """An oriented RGB copy of at most `size` pixels on its longest side, decoded from the file again."""
        cached = item.memory.get(f"larger:{size}")
        if cached is None:
            from daemon.pipeline.imaging import open_image, reduce
            from daemon.pipeline.probe import read_bytes

            image = open_image(read_bytes(item.path), item.path, self.max_pixels)
            cached = reduce(image, size, item.result("probe").get("orientation"))
            item.memory[f"larger:{size}"] = cached
        return cached

    def close(self) -> None:
        for analyzer in self.analyzers:
            analyzer.close()


def build_analyze_stage(config: Any) -> AnalyzeStage | None:
    """The stage with the analyzers the config enables (None when none is)."""
    analyzers: list[Analyzer] = []
    if config.quality.enabled:
        from daemon.analyzers.quality import QualityAnalyzer

        analyzers.append(QualityAnalyzer())
    if config.sensitive.enabled:
        from daemon.analyzers.sensitive import SensitiveAnalyzer

        analyzers.append(SensitiveAnalyzer(config.sensitive))
    if config.ocr.enabled:
        from daemon.analyzers.ocr import OcrAnalyzer

        analyzers.append(OcrAnalyzer(config.ocr))
    if config.analyzers.enabled:
        from daemon.analyzers.plugins import load_plugins

        analyzers.extend(load_plugins(config.analyzers.enabled))
    return AnalyzeStage(analyzers, config.engine.max_image_pixels) if analyzers else None
