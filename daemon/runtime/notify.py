"""systemd readiness protocol (sd_notify) without a dependency: READY, STATUS, WATCHDOG and STOPPING datagrams.

Does nothing unless the service manager set $NOTIFY_SOCKET; the watchdog pings only while the engine loop ticks.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from daemon.store import queue

if TYPE_CHECKING:
    from daemon.runtime.app import App

log = logging.getLogger("image_engine.notify")
STATUS_EVERY_SECONDS = 5.0


class Notifier:
    """One socket address, the watchdog interval (None when off), and the last STATUS sent."""

    def __init__(self, address: str, watchdog_seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval = watchdog_seconds / 2 if watchdog_seconds else None
        self.clock = clock
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._last_ping = float("-inf")
        self._last_status = ""
        self._status_at = float("-inf")
        self._unhealthy_logged = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier | None:
        """The notifier systemd asked for, or None. Reading the variables removes them, as sd_notify(unset=1)
        does, so child processes (exiftool) never speak for the service."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if not address or not (address.startswith("/") or address.startswith("@")):
            return None
        watchdog = _watchdog_seconds(env)
        if environ is None:
            for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                os.environ.pop(name, None)
        return cls(address, watchdog)

    def send(self, *fields: str) -> bool:
        message = "\n".join(fields).encode("utf-8", "replace")
        try:
            self._socket.sendto(message, self.address)
            return True
        except OSError as exc:  # the manager went away or the socket is full: never fatal for the engine
            log.debug("sd_notify failed", extra={"event": "notify_failed", "error": str(exc)})
            return False

    def ready(self, status: str = "") -> None:
        self.send("READY=1", f"MAINPID={os.getpid()}", *([f"STATUS={status}"] if status else []))
        self._last_status, self._status_at = status, self.clock()

    def status(self, text: str, force: bool = False) -> None:
        if force or text != self._last_status:
            self.send(f"STATUS={text}")
            self._last_status, self._status_at = text, self.clock()

    def stopping(self, status: str = "stopping: finishing running jobs") -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def ping_due(self) -> bool:
        return self.watchdog_interval is not None and self.clock() - self._last_ping >= self.watchdog_interval

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")
        self._last_ping = self.clock()

    def tick(self, app: App) -> None:
        """Called from the engine loop: a STATUS line when the counts change (at most every few seconds),
        and a watchdog ping when due, withheld while a worker thread has died so systemd restarts the engine."""
        now = self.clock()
        if now - self._status_at >= STATUS_EVERY_SECONDS:
            self._status_at = now
            try:
                self.status(status_line(queue.counts(app.store.conn), app.control.paused))
            except sqlite3.Error as exc:  # a busy database delays a STATUS line, never the engine loop
                log.debug("status counts failed", extra={"event": "notify_failed", "error": str(exc)})
        if not self.ping_due():
            return
        dead = [worker.name for worker in app.workers if not worker.is_alive()]
        if dead:
            if not self._unhealthy_logged:
                log.error("worker thread died; watchdog pings stop", extra={"event": "unhealthy", "detail": str(dead)})
                self._unhealthy_logged = True
            return
        self.watchdog()

    def close(self) -> None:
        self._socket.close()


def status_line(counts: Mapping[str, int], paused: bool = False) -> str:
    line = (
        f"{counts.get('queued', 0)} queued, {counts.get('running', 0)} running, "
        f"{counts.get('done', 0)} done, {counts.get('failed', 0)} failed"
    )
    if counts.get("waiting"):
        line += f", {counts['waiting']} waiting"
    return ("paused: " if paused else "") + line


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """WATCHDOG_USEC, unless WATCHDOG_PID names another process (the variable was inherited)."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None


def attach(app: App) -> Notifier | None:
    """Hook the notifier into an App (a ticker in its loop); the caller sends READY and STOPPING."""
    notifier = Notifier.from_env()
    if notifier is not None:
        app.tickers.append(notifier.tick)
    return notifier
