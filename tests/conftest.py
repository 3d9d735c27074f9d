"""Shared fixtures: a temp engine folder with config, a running engine, and no leaked threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Engine, write_config

pytest_plugins = ["tests.markers"]  # unit / integration / e2e / chaos / slow / desktop
THREAD_GRACE_SECONDS = 2.0  # a stopped worker finishes its current poll (<= 1 s) and returns


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator:
    engines: list[Engine] = []

    def make(extra: str = "", start: bool = True, **engine_settings: object) -> Engine:
        config = write_config(tmp_path, extra, **engine_settings)
        engine = Engine(tmp_path, config)
        engines.append(engine)
        if start:
            engine.start()
        return engine

    yield make
    for engine in engines:
        if engine.process is not None and engine.process.poll() is None:
            engine.kill()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test starts has ended when it ends, daemon threads too (a daemon flag only hides the leak
    at interpreter exit). Threads winding down get a bounded grace period to finish."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    leaked = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaked.append(thread)
    assert not leaked, f"test leaked threads: {[(t.name, 'daemon' if t.daemon else '') for t in leaked]}"


@pytest.fixture
def engine_app(tmp_path: Path) -> Iterator[Any]:
    """The engine's App on a fresh config, not started: its routes (control API and review app) for in-process tests."""
    from daemon.config import load_config
    from daemon.runtime.app import App

    app = App(load_config(write_config(tmp_path)))
    try:
        yield app
    finally:
        app.server.socket.close()
        app.pipeline.close()
        app.store.close()
