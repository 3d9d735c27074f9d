"""The real tray on a real (virtual) desktop: Xvfb, a system tray (trayer), the gtk/appindicator backend.

The test clicks the icon, picks menu items with the keyboard like a person would, and checks the service
changed; screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from daemon.control.client import ControlClient
from tests.desktop import Desktop, need_desktop
from tests.support import REPO, Engine, copy_in, corpus, wait_for
from tray.icon import COLOURS
from tray.state import View, keyboard_steps, menu_entries

ARTIFACTS = REPO / "test-artifacts"


class TrayProcess:
    """`image-engine tray` as a person starts it, on the given desktop, with xdg-open replaced by a recorder."""

    def __init__(self, desktop: Desktop, engine: Engine, folder: Path):
        self.desktop = desktop
        self.opened = folder / "opened.txt"
        fakebin = folder / "bin"
        fakebin.mkdir()
        opener = fakebin / "xdg-open"  # the desktop's "open with the default application", recorded instead
        opener.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{self.opened}'\n")
        opener.chmod(0o755)
        env = {
            **desktop.env,
            "PATH": f"{fakebin}{os.pathsep}{os.environ['PATH']}",
            "PYSTRAY_BACKEND": "appindicator",  # the backend most Linux desktops get
            "PYTHONUNBUFFERED": "1",
        }
        self.log = folder / "tray.out"
        self._log = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(engine.config), "tray", "--interval", "0.5"],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.window = wait_for(lambda: self.alive() and desktop.windows("^Image Engine"), 20, message="the icon")[0]

    def alive(self) -> bool:
        assert self.process.poll() is None, f"the tray exited:\n{self.log.read_text(errors='replace')}"
        return True

    def tooltip(self) -> str:
        return self.desktop.window_name(self.window)

    def wait_tooltip(self, start: str) -> str:
        return wait_for(lambda: self.alive() and self.tooltip().startswith(start) and self.tooltip(), 20, 0.1, start)

    def choose(self, action: str, view: View, screenshot: Path | None = None) -> None:
        """Open the menu with a click and pick `action` with the arrow keys and Return."""
        self.desktop.click(self.window)
        wait_for(self.desktop.menus, 10, message="the menu to open")
        self.desktop.settle()
        if screenshot:
            self.desktop.screenshot(screenshot)
        self.desktop.keys(*["Down"] * keyboard_steps(menu_entries(view), action), "Return")
        wait_for(lambda: not self.desktop.menus(), 10, message="the menu to close")

    def icon_share(self, kind: str, shot: Path | None = None) -> float:
        """How much of the docked icon, in a real screenshot, has the colour of `kind`."""
        x, y, w, h = self.desktop.geometry(self.window)
        screen = self.desktop.screenshot(shot)
        pixels = np.asarray(screen.convert("RGB").crop((x, y, x + w, y + h)), dtype=int).reshape(-1, 3)
        return float((np.abs(pixels - COLOURS[kind]).max(axis=1) <= 40).mean())

    def opened_paths(self) -> list[str]:
        return self.opened.read_text(encoding="utf-8").splitlines() if self.opened.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    need_desktop()
    screen = Desktop(tmp_path).start()
    yield screen
    screen.stop()


def test_the_tray_menu_pauses_resumes_rescans_and_opens_things_on_a_real_desktop(
    engine_factory, desktop: Desktop, tmp_path: Path
) -> None:
    engine: Engine = engine_factory()
    client = ControlClient(engine.data, timeout=2)
    tray = TrayProcess(desktop, engine, tmp_path)
    try:
        live, paused, down = View("idle"), View("paused"), View("unreachable")
        tray.wait_tooltip("Image Engine: idle")
        assert wait_for(lambda: tray.icon_share("idle") > 0.2, 10, message="a green icon")

        broken = copy_in([corpus() / "broken" / "beach.jpg"], engine.drop)[0]
        assert "1 failed" in tray.wait_tooltip("Image Engine: 1 failed")
        assert wait_for(lambda: tray.icon_share("error") > 0.2, 10, message="a red icon")

        tray.choose("pause", live, screenshot=ARTIFACTS / "tray-menu.png")
        wait_for(lambda: engine.status()["state"] == "paused", 10, message="the service to pause")
        tray.wait_tooltip("Image Engine: paused")
        assert wait_for(lambda: tray.icon_share("paused", ARTIFACTS / "tray-paused.png") > 0.2, 10, message="amber")

        tray.choose("resume", paused)
        wait_for(lambda: engine.status()["state"] == "running", 10, message="the service to resume")
        tray.wait_tooltip("Image Engine: 1 failed")

        tray.choose("rescan", live)  # scan 1 ran at start-up; the menu's is the second
        assert wait_for(lambda: client.get("/scan?id=2")["state"] == "done", 10, message="the rescan")

        tray.choose("show_failed", live)
        listing = Path(wait_for(lambda: tray.opened_paths()[-1:], 10, message="the failed list")[0])
        assert listing.suffix == ".txt" and str(broken) in listing.read_text(encoding="utf-8")
        tray.choose("open_drop", live)
        wait_for(lambda: tray.opened_paths()[-1] == str(engine.drop), 10, message="the drop folder opened")

        engine.stop()
        tray.wait_tooltip("Image Engine: service not running")
        assert wait_for(lambda: tray.icon_share("unreachable") > 0.2, 10, message="grey")
        tray.choose("open_library", down, screenshot=ARTIFACTS / "tray-menu-service-down.png")
        wait_for(lambda: tray.opened_paths()[-1] == str(engine.library), 10, message="the library opened")

        engine.start()  # a new process on a new port: the tray finds it by itself
        tray.wait_tooltip("Image Engine: 1 failed")
        tray.choose("pause", live)
        wait_for(lambda: engine.status()["state"] == "paused", 10, message="the restarted service to pause")

        tray.choose("quit", live)
        assert tray.process.wait(timeout=15) == 0, tray.log.read_text(errors="replace")
        assert engine.status()["state"] == "paused", "quitting the tray leaves the service running"
    finally:
        tray.stop()
