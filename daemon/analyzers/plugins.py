"""Third-party analyzers, found through the `image_engine.analyzers` entry point and enabled by name in the config.

A plugin that cannot be loaded is replaced by a stand-in whose `available()` says why, so its photos wait and say so.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from daemon.analyzers import Analyzer

GROUP = "image_engine.analyzers"
log = logging.getLogger("image_engine.analyze")


class Unloadable(Analyzer):
    """Stands in for an enabled plugin that is not installed or fails to load."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.model = ""
        self.reason = reason

    def available(self) -> str | None:
        return self.reason


def load_plugins(names: list[str]) -> list[Analyzer]:
    """The enabled plugins, in the order named: each entry point gives a class (or factory) called with no arguments."""
    found = {point.name: point for point in entry_points(group=GROUP)}
    analyzers: list[Analyzer] = []
    for name in names:
        point = found.get(name)
        if point is None:
            known = ", ".join(sorted(found)) or "none"
            analyzers.append(Unloadable(name, f"no installed package provides it (installed analyzers: {known})"))
            continue
        try:
            analyzer = point.load()()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the engine; its photos wait instead
            log.error("analyzer failed to load", extra={"event": "analyzer_load_failed", "error": f"{name}: {exc}"})
            analyzers.append(Unloadable(name, f"{point.value} failed to load: {type(exc).__name__}: {exc}"))
            continue
        analyzer.name = analyzer.name or name
        analyzers.append(analyzer)
    return analyzers
