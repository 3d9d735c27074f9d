"""Signal handling of the foreground engine: SIGINT and SIGTERM set one stop event, nothing else.

The engine loop polls the event and shuts down in order; the Windows service sets the same event instead.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def stop_on_signals() -> threading.Event:
    """An event that SIGINT (Ctrl-C) or SIGTERM (systemd stop) sets; call from the main thread."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop
