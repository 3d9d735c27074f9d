"""The engine until a stop event: `image-engine run` and the Windows service both run exactly `serve`.

Logging, the run lock (one engine per data folder), the App, systemd notify, and the start-up lines on stderr.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from daemon.config import Config
from daemon.errors import EXIT_RUNTIME
from daemon.runtime import notify
from daemon.runtime.app import App
from daemon.runtime.logs import setup_logging
from daemon.runtime.runlock import RunLock


def serve(config: Config, stop: threading.Event, on_started: Callable[[Any], None] | None = None) -> int:
    """The engine until `stop` is set; returns the process exit code.

    `on_started(app)` is called once the engine is up (the Windows service keeps the App for pause/continue).
    Under systemd (NOTIFY_SOCKET set) it reports READY, STATUS lines, watchdog pings and STOPPING.
    """
    setup_logging(config.log_path, config.log.level, config.log.max_bytes, config.log.backups)
    lock = RunLock(config.data_dir / "engine.lock")
    if not lock.acquire():
        print(f"image-engine: another engine is already running with data folder {config.data_dir}", file=sys.stderr)
        return EXIT_RUNTIME
    try:
        app = App(config)
    except OSError as exc:
        lock.release()
        print(f"image-engine: cannot start: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    notifier = notify.attach(app)

    def ready() -> None:
        print_started(app)
        if on_started:
            on_started(app)
        if notifier:
            notifier.ready(notify.status_line(app.status().jobs, app.control.paused))

    try:
        app.run(stop, on_ready=ready, on_stopping=notifier.stopping if notifier else None)
    finally:
        if notifier:
            notifier.close()
        lock.release()
    return 0


def print_started(app: App) -> None:
    config = app.config
    print(f"Image Engine {app.status().version} running (config: {config.source or 'defaults'})", file=sys.stderr)
    print(f"  data folder: {config.data_dir}", file=sys.stderr)
    for watch in config.watch:
        print(f"  watching ({watch.mode}): {watch.path}", file=sys.stderr)
    print(f"  library: {config.library.root}", file=sys.stderr)
    print(f"  log: {config.log_path}", file=sys.stderr)
    print(f"  control API: 127.0.0.1:{app.server.port} (token in {config.token_path})", file=sys.stderr)
