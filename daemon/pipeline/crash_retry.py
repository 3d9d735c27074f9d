"""Files failed by a crash loop get another chance: once the engine has run `[engine] crash_retry_minutes`
without stopping, jobs failed because it kept dying while working on them are queued again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from daemon.config import Config
from daemon.store import Store, queue

log = logging.getLogger("image_engine.worker")


def describe(config: Config) -> str:
    minutes = config.engine.crash_retry_minutes
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


class CrashRetry:
    """A ticker (called every half second by the app): after each clean run of the configured length, retry."""

    def __init__(
        self, store: Store, config: Config, wake: Callable[[], None], clock: Callable[[], float] = time.monotonic
    ):
        self.store = store
        self.period = config.engine.crash_retry_minutes * 60
        self.wake = wake
        self.clock = clock
        self.due = clock() + self.period

    def tick(self, _app: Any = None) -> int:
        if self.clock() < self.due:
            return 0
        self.due = self.clock() + self.period
        count = queue.retry_crash_failures(self.store.conn)
        if count:
            log.info(
                "retrying files failed by engine crashes",
                extra={"event": "crash_retry", "detail": {"jobs": count, "clean_run_s": self.period}},
            )
            self.wake()
        return count
