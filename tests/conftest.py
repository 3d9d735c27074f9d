"""Shared fixtures: a temp engine folder with config, a running engine, and no leaked threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Engine, write_config

pytest_plugins = ["tests.markers"]  # unit / integration / e2e / chaos / slow / desktop


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
    before = {thread.ident for thread in threading.enumerate()}
    yield
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not t.daemon]
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
