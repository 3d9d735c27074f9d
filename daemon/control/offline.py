"""Store-only requests without the service: when no engine holds the data folder, the CLI opens the store itself.

It takes the engine's own run lock first, so a service starting meanwhile waits its turn instead of racing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from daemon.config import Config
from daemon.control.client import ServiceUnreachable
from daemon.runlock import RunLock
from daemon.store import Store


@contextmanager
def store_without_service(config: Config) -> Iterator[Store]:
    """The store, under the run lock; ServiceUnreachable when an engine holds the lock but did not answer."""
    lock = RunLock(config.data_dir / "engine.lock")
    if not lock.acquire():
        raise ServiceUnreachable(
            f"an engine holds the data folder {config.data_dir} but does not answer (is it still starting?)"
        )
    try:
        store = Store(config.db_path)
        try:
            yield store
        finally:
            store.close()
    finally:
        lock.release()
