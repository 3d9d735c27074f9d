"""Stage `rename`: file each photo (and its sidecars and same-stem RAW/JPEG) by the template, through the journal.

Drop folders file into the library; in-place folders only with `in_place`; dry run records the plan instead.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, TypedDict

from daemon.analyzers.sensitive import flagged
from daemon.config import Config
from daemon.errors import GoneError, PermanentError, RetryableError
from daemon.pipeline.base import Stage, WorkItem
from daemon.rename.batch import open_batch_intents
from daemon.rename.duplicates import delete_duplicate
from daemon.rename.journal import journaled_move, move_under_intent, resolve
from daemon.rename.mover import TargetExists
from daemon.rename.planner import Decision, Planner
from daemon.rename.values import naming_values
from daemon.store import Store, rename
from daemon.store.queue import Job

log = logging.getLogger("image_engine.rename")
DECIDE_TRIES = 5

# The rename stage's result ("from" is a keyword, hence this form). moved: filed now; planned: a dry run's plan.
RenameResult = TypedDict(
    "RenameResult",
    {
        "from": str,
        "to": str,
        "moved": bool,
        "planned": bool,
        "reason": str,
        "companions": list[list[str]],
        "journal": int,  # the journal row of the move
        "stat": list[int] | None,  # size, mtime_ns, inode at the destination
        "root": str | None,  # the watched folder the file now lives in (None: outside every one)
        "template": str,
        "deleted": bool,  # [rename] duplicates = "delete" removed this byte-identical copy
    },
    total=False,
)


class RenameStage(Stage):
    name = "rename"
    pool = "files"

    def __init__(self, config: Config, earlier_stages: list[str]):
        self.config = config
        self.settings = config.rename
        self.planner = Planner(config, earlier_stages)
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        # The journal must be written before a move, outside the worker's completion transaction.
        if self._store is None:
            self._store = Store(self.config.db_path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def record(self, conn: sqlite3.Connection, job: Job, result: RenameResult) -> None:  # type: ignore[override]
        """Confirm the move in the journal (and the file's new path), or keep the dry run's plan."""
        rename.record_rename(conn, job, result)

    def run(self, item: WorkItem) -> RenameResult:  # type: ignore[override]
        conn = self.store.conn
        finished = self.finished_earlier(item)
        if finished is not None:
            return finished
        src = item.path
        if not os.path.lexists(src):
            raise GoneError("file disappeared before it could be filed")
        values = naming_values(
            src, item.result("probe"), item.result("hash"), item.result("tag"), self.settings.jpeg_as_jpg
        )
        dedup = item.result("dedup")
        private = self.is_private(item)
        for _ in range(DECIDE_TRIES):
            decision = self.planner.decide(conn, src, values, dedup, private)
            if decision.delete_as_copy_of is not None:
                if self.settings.dry_run:
                    return decision.result(planned=True, reason=f"dry run: would be {decision.reason}")
                return delete_duplicate(conn, decision, item.result("hash").get("sha256"))
            if not decision.move:
                self._log_kept(item, decision)
                return decision.result()
            if self.settings.dry_run:
                return decision.result(
                    planned=True, reason=f"dry run: would be {decision.reason}", template=self.settings.template
                )
            move_id = self._move(item, decision)
            if move_id is not None:
                return self._moved(item, decision, move_id)
        raise RetryableError("the names the template gives kept being taken by other files; trying again later")

    def run_batch(self, items: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
        """Plain moves of a batch get their intents in one commit before any file moves (an intent committed alone
        rewrote ~15 pages of the journal, files and search index: most of the engine's writes per photo); the
        rest, and any whose move meets a change on disk, go through `run` one by one."""
        batched = len(items) > 1 and not self.settings.dry_run
        opened = (
            open_batch_intents(self.store.conn, self.planner, self.settings, items, self.is_private) if batched else {}
        )
        outcomes: list[dict[str, Any] | BaseException] = []
        for item in items:
            try:
                intent = opened.get(id(item))
                moved = None if intent is None else self._move(item, intent[0], intent[1])
                outcomes.append(self.run(item) if moved is None else self._moved(item, intent[0], moved))
            except Exception as exc:  # noqa: BLE001 - each item's error is contained and recorded
                outcomes.append(exc)
        return outcomes

    def is_private(self, item: WorkItem) -> bool:
        """Sensitive content with `[sensitive] action = "separate"`: filed under the private folder."""
        return self.config.sensitive.action == "separate" and flagged(item.result("analyze"))

    def _moved(self, item: WorkItem, decision: Decision, move_id: int) -> RenameResult:
        info = os.stat(decision.dest, follow_symlinks=False)
        log.info(
            "filed",
            extra={
                "event": "filed",
                "job": item.job.id,
                "path": str(decision.dest),
                "source": str(decision.src),
                "dest": str(decision.dest),
            },
        )
        return decision.result(
            moved=True,
            journal=move_id,
            stat=[info.st_size, info.st_mtime_ns, info.st_ino],
            root=self.planner.root_of(decision.dest),
        )

    def _move(self, item: WorkItem, decision: Decision, opened: int | None = None) -> int | None:
        """The move through the journal (its intent `opened` already, or opened now); None: decide again."""
        try:
            if opened is not None:
                move_under_intent(self.store.conn, opened, decision.src, decision.dest, decision.companions)
                return opened
            return journaled_move(
                self.store.conn,
                kind="file",
                job_id=item.job.id,
                file_id=item.job.file_id,
                src=decision.src,
                dest=decision.dest,
                companions=decision.companions,
                partners=decision.partners,
                template=self.settings.template,
                reason=decision.reason,
            )
        except TargetExists:
            return None  # appeared on disk since the decision: decide again
        except FileNotFoundError as exc:
            raise PermanentError(f"file disappeared while being filed ({exc.filename})") from None
        except PermissionError as exc:
            raise RetryableError(f"cannot move to {decision.dest}: permission denied ({exc.filename})") from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise RetryableError(f"cannot move to {decision.dest}: {exc.strerror or exc}") from None

    def finished_earlier(self, item: WorkItem) -> dict[str, Any] | None:
        """A move this job started before an interruption: settle it from the disk, and never move twice."""
        conn = self.store.conn
        for move in rename.open_intents(conn, job_id=item.job.id):
            resolve(conn, move, lambda path: self.planner.root_of(path))
        move = rename.done_move_for_job(conn, item.job.id)
        if move is None or move.file_id != item.job.file_id:
            return None
        if item.result("rename").get("journal") == move.id:
            return None  # that move was recorded: this is a new pass (e.g. `dupes --resolve` moving a duplicate)
        dest = Path(move.dest)
        try:
            info = os.stat(dest, follow_symlinks=False)
            stat = [info.st_size, info.st_mtime_ns, info.st_ino]
        except OSError:
            stat = None
        return {
            "from": move.src,
            "to": move.dest,
            "moved": True,
            "planned": False,
            "reason": move.reason or "filed",
            "companions": [list(pair) for pair in move.companions],
            "journal": move.id,
            "stat": stat,
            "root": self.planner.root_of(dest),
        }

    def _log_kept(self, item: WorkItem, decision: Decision) -> None:
        level = logging.WARNING if decision.reason.startswith("not filed") else logging.INFO
        log.log(
            level,
            "not moved",
            extra={"event": "not_filed", "job": item.job.id, "path": str(decision.src), "detail": decision.reason},
        )
