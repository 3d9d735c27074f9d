"""The pystray glue: one icon on the main thread, one worker thread that polls the service and runs menu actions.

pystray is imported only here, at run time (with no display it raises instead of importing).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

from daemon.control.client import ControlClient
from tray.actions import ActionFailed, Actions, Places
from tray.icon import picture
from tray.state import SEPARATOR, Entry, Poller, View, menu_entries

log = logging.getLogger("image_engine.tray")
POLL_SECONDS = 2.0


class TrayApp:
    """The icon and its menu, kept in step with the Poller's view; menu clicks are queued for the worker thread."""

    def __init__(self, pystray: Any, poller: Poller, actions: Actions, interval: float = POLL_SECONDS):
        self.pystray = pystray
        self.poller = poller
        self.actions = actions
        self.interval = interval
        self.requests: queue.Queue[str] = queue.Queue()
        self.stopping = threading.Event()
        self.shown: View | None = None
        self.shown_menu: list[Entry] = []
        view = poller.view
        self.icon = pystray.Icon("image-engine", picture(view), view.tooltip, self._menu(menu_entries(view)))
        self.worker = threading.Thread(target=self._work, name="tray-poll", daemon=True)

    def run(self) -> int:
        try:
            self.icon.run(setup=self._setup)
        except Exception as exc:  # noqa: BLE001 - pystray's gtk backends raise GLib.Error at exit without a notifier
            if not self.stopping.is_set():
                raise
            log.debug("icon loop ended with %s", exc)
        finally:
            self.stopping.set()
            self.requests.put("")
            self.worker.join(timeout=5)
            self.actions.forget()
        return 0

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        self.worker.start()

    def _work(self) -> None:
        next_poll = 0.0
        while not self.stopping.is_set():
            self.step(max(0.0, next_poll - time.monotonic()))
            next_poll = time.monotonic() + self.interval

    def step(self, wait: float) -> None:
        """Wait up to `wait` seconds for a menu request, do it, then poll and show the result."""
        try:
            action = self.requests.get(timeout=wait) if wait > 0 else self.requests.get_nowait()
        except queue.Empty:
            action = None
        if self.stopping.is_set():
            return
        try:
            if action:
                self._perform(action)
            self.show(self.poller.poll())
        except Exception:  # noqa: BLE001 - the tray must outlive any surprise; it is logged
            log.exception("tray update failed")

    def _perform(self, action: str) -> None:
        try:
            outcome = self.actions.perform(action)
        except ActionFailed as exc:
            outcome = str(exc)
            log.warning("%s", outcome)
        else:
            log.info("%s", outcome)
        self.poller.notify(outcome)

    def show(self, view: View) -> None:
        previous = self.shown
        if previous is None or previous.kind != view.kind:
            log.info("state: %s (%s)", view.kind, view.status_line)
        # Menu first, tooltip last: the backends apply these in order, so a new tooltip means a current menu.
        entries = menu_entries(view)
        if entries != self.shown_menu:
            self.icon.menu = self._menu(entries)
            self.shown_menu = entries
        if previous is None or previous.picture != view.picture:
            self.icon.icon = picture(view)
        if previous is None or previous.tooltip != view.tooltip:
            self.icon.title = view.tooltip
        self.shown = view

    def _menu(self, entries: list[Entry]) -> Any:
        pystray = self.pystray
        items = []
        for entry in entries:
            if entry == SEPARATOR:
                items.append(pystray.Menu.SEPARATOR)
            elif entry.action is None:
                items.append(pystray.MenuItem(entry.label, None, enabled=False))
            else:
                items.append(pystray.MenuItem(entry.label, self._handler(entry.action), enabled=entry.enabled))
        return pystray.Menu(*items)

    def _handler(self, action: str) -> Any:
        def clicked(icon: Any, item: Any) -> None:
            if action == "quit":
                self.stopping.set()
                self.requests.put("")
                icon.stop()
            else:
                self.requests.put(action)  # the worker thread does the I/O; the menu never blocks

        return clicked


def run_tray(data_dir: Path, places: Places, interval: float = POLL_SECONDS) -> int:
    """Show the icon until "Quit tray"; returns an exit code. The service is never started or stopped here."""
    try:
        import pystray
    except Exception as exc:  # noqa: BLE001 - DisplayNameError, ImportError, gi's ValueError: all mean "no tray here"
        print(
            f"image-engine tray: no desktop tray to show the icon in ({type(exc).__name__}: {exc});"
            " run it inside your desktop session (DISPLAY or WAYLAND_DISPLAY set)",
            file=sys.stderr,
        )
        return 1
    backend = pystray.Icon.__module__.rsplit("_", 1)[-1]
    if backend == "xorg":
        log.warning(
            "the xorg tray backend shows the icon but no menu: install PyGObject for the gtk/appindicator"
            " backends (README, 'Tray icon')"
        )
    client = ControlClient(data_dir, timeout=min(1.5, interval))
    poller = Poller(client)
    poller.poll()  # the icon appears showing the real state, not a placeholder
    app = TrayApp(pystray, poller, Actions(client, places), interval)
    log.info("tray started (%s backend), data folder %s", backend, data_dir)
    try:
        return app.run()
    except Exception as exc:  # noqa: BLE001 - the desktop's tray went away under us: say so, with the details logged
        log.exception("the tray icon stopped")
        print(f"image-engine tray: the tray icon stopped: {exc}", file=sys.stderr)
        return 1
