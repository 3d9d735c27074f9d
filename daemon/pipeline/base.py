"""The stage contract: a stage takes work items and returns one result (or an error) per item, and records it.

Each stage module defines its typed result (a TypedDict) and `record`, which hands it to its store module inside the
completion transaction. Stages know no threads and no SQL; the worker claims, runs, records and advances.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.store.queue import Job

if TYPE_CHECKING:
    from PIL import Image


@dataclass
class WorkItem:
    """One job as a stage sees it: the file, earlier stages' results, and in-memory scratch."""

    job: Job
    results: Callable[[str], dict[str, Any] | None]
    reduced_loader: Callable[[WorkItem], Image.Image]
    memory: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.job.path)

    def result(self, stage: str) -> dict[str, Any]:
        """What an earlier stage recorded for this file (memory first, then the store)."""
        cached = self.memory.get(f"result:{stage}")
        if cached is None:
            cached = self.results(stage) or {}
            self.memory[f"result:{stage}"] = cached
        return cached

    def reduced(self) -> Image.Image:
        """The oriented, reduced RGB copy `probe` decoded; reloaded from cache if this process lacks it."""
        image = self.memory.get("reduced")
        if image is None:
            image = self.reduced_loader(self)
            self.memory["reduced"] = image
        return image


class Stage:
    """Base class: override `run` (one item) or `run_batch` (several at once)."""

    name: str = ""
    pool: str = "cpu"
    batch_size: int = 1
    heavy: bool = False  # uses the GPU or much CPU: subject to GPU yield, battery and work-hours gates
    one_by_one: bool = False  # each file judged against what the files before it recorded (never a batch)
    # Changes nothing outside the store (a run again after a crash is harmless): its outcomes are recorded in the
    # same commit as the next stage's when the same worker runs that one (a commit fewer per batch).
    pure: bool = False

    def available(self) -> str | None:
        """None when the stage can run now, else the reason its jobs wait (model missing, quiet hours)."""
        return None

    def ready(self) -> bool:
        """False while `prepare` has slow work to do before any file is touched (a model to load)."""
        return True

    def prepare(self) -> None:
        """Get ready before any file is touched (load the model, start a tool). An engine death meanwhile is not
        counted against the batch's files; errors are left to `run_batch`, which reports them per file."""

    def run(self, item: WorkItem) -> dict[str, Any]:
        raise NotImplementedError

    def run_batch(self, items: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
        outcomes: list[dict[str, Any] | BaseException] = []
        for item in items:
            try:
                outcomes.append(self.run(item))
            except Exception as exc:  # noqa: BLE001 - each item's error is contained and recorded
                outcomes.append(exc)
        return outcomes

    def record(self, conn: sqlite3.Connection, job: Job, result: dict[str, Any]) -> None:
        """Write the result into this stage's own tables (inside the completion transaction); default: none.

        The generic `results` row (the JSON of every key not starting with "_") is written for every stage.
        """

    def close(self) -> None:
        """Release models, processes and handles at shutdown."""
