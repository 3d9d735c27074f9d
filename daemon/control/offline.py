"""Store-only requests without the service: when no engine holds the data folder, the CLI answers them itself.

It takes the engine's own run lock first (a service starting meanwhile waits its turn), opens the store and runs
the very route handlers the service runs. Answers made this way carry `"service": false`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

from daemon.config import Config
from daemon.control.client import ApiError, ControlClient, ServiceUnreachable
from daemon.control.people import ROUTES as PEOPLE_ROUTES
from daemon.runtime.runlock import RunLock
from daemon.store import Store

# Requests that need only the store (and the config): the job list, retry, and renaming's plan, journal and undo.
STORE_ONLY = frozenset(
    {
        ("GET", "/jobs"),
        ("POST", "/retry"),
        ("GET", "/rename/plan"),
        ("GET", "/rename/journal"),
        ("POST", "/rename/undo"),
    }
) | frozenset(PEOPLE_ROUTES)
FIRST_STAGE = "probe"  # where re-queued work starts; the service's pipeline begins there too


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


class StoreOnlyFallback:
    """A ControlClient that runs store-only requests on the store itself when no service answers."""

    def __init__(self, client: ControlClient, config: Config):
        self.client = client
        self.config = config

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            return self.client.request(method, path, body)
        except ServiceUnreachable:
            route, _, query_text = path.partition("?")
            if (method, route) not in STORE_ONLY:
                raise
            query = {key: values[-1] for key, values in parse_qs(query_text).items()}
            return self._answer(method, route, query, body or {})

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body or {})

    def _answer(self, method: str, route: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        from daemon.control.api import core_routes
        from daemon.control.people import people_routes
        from daemon.control.rename import rename_routes

        with store_without_service(self.config) as store:
            nothing_to_wake = threading.Event().set  # no workers run: queued work waits for the service
            routes = {
                **core_routes(_NoEngine(), store, nothing_to_wake),
                **rename_routes(store, self.config, FIRST_STAGE, nothing_to_wake),
                **people_routes(store, self.config),
            }
            try:
                status, payload = routes[(method, route)](query, body)
            except (ValueError, KeyError) as exc:
                status, payload = 400, {"error": str(exc)}
        if status >= 400:
            raise ApiError(status, payload.get("error", "") if isinstance(payload, dict) else str(payload))
        return {**payload, "service": False} if isinstance(payload, dict) else payload


class _NoEngine:
    """The core routes' engine, for the store-only routes that never ask it anything."""

    def __getattr__(self, name: str) -> Any:
        raise ServiceUnreachable(f"{name} needs the running service")
