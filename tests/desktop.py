"""A throwaway desktop for tray tests: Xvfb, a system tray (trayer), a session bus, xdotool, screenshots (Pillow).

`need_desktop()` skips (or fails in CI, like tests.support.need) when a piece is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageGrab

from tests.support import REQUIRE_CORPUS, wait_for

TOOLS = {
    "Xvfb": "xvfb",
    "trayer": "trayer",
    "xdotool": "xdotool",
    "dbus-daemon": "dbus",
}
GI_CHECK = (
    "import gi; gi.require_version('Gtk', '3.0'); gi.require_version('AyatanaAppIndicator3', '0.1');"
    " from gi.repository import Gtk, AyatanaAppIndicator3"
)


def need_desktop() -> None:
    """Skip with the reason when Xvfb, trayer, xdotool, ImageMagick, dbus or PyGObject is missing (fail in CI)."""
    missing = [f"{tool} (apt {package})" for tool, package in TOOLS.items() if shutil.which(tool) is None]
    probe = subprocess.run([sys.executable, "-c", GI_CHECK], capture_output=True, text=True, env=_no_display())
    if probe.returncode != 0:
        missing.append(
            "PyGObject with Gtk 3 and AyatanaAppIndicator3 (pip 'PyGObject<3.51', apt gir1.2-gtk-3.0 "
            "gir1.2-ayatanaappindicator3-0.1): " + (probe.stderr.strip().splitlines() or ["?"])[-1]
        )
    if missing:
        message = "tray desktop test needs " + ", ".join(missing) + " (scripts/setup-test.sh installs them)"
        if REQUIRE_CORPUS:
            pytest.fail(message)
        pytest.skip(message)


def need_gio() -> Any:
    """GLib's Gio (PyGObject, the tray-linux extra), which reads desktop files as desktops do; skip or fail."""
    try:
        from gi.repository import Gio
    except ImportError as exc:
        message = f"PyGObject is needed to read desktop files like a desktop does ({exc}): pip 'PyGObject<3.51'"
        if REQUIRE_CORPUS:
            pytest.fail(message)
        pytest.skip(message)
    return Gio


def _no_display() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}


class Desktop:
    """Xvfb + a session bus + trayer docked at the top right; every process in its own group, killed at stop()."""

    def __init__(self, folder: Path, width: int = 480, height: int = 320):
        self.folder = folder
        self.size = (width, height)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    def start(self) -> Desktop:
        read, write = os.pipe()
        width, height = self.size
        xvfb = self._spawn(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            _no_display(),
            pass_fds=(write,),
        )
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        assert number, f"Xvfb did not start (exit {xvfb.poll()})"
        bus = self._spawn(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address"], _no_display(), stdout=True
        )
        address = bus.stdout.readline().decode().strip()  # type: ignore[union-attr]
        assert address, "dbus-daemon gave no address"
        self.env = {
            **_no_display(),
            "DISPLAY": f":{number}",
            "DBUS_SESSION_BUS_ADDRESS": address,
            "NO_AT_BRIDGE": "1",  # no accessibility bus: it would outlive the test
            "GDK_BACKEND": "x11",
        }
        self._spawn(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "160"]
            + ["--height", "32", "--transparent", "false", "--SetDockType", "true"],
            self.env,
        )
        wait_for(lambda: self.windows("^panel$"), 10, message="trayer's panel")
        return self

    def _spawn(
        self, argv: list[str], env: dict[str, str], stdout: bool = False, pass_fds: tuple[int, ...] = ()
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()
        self.processes.clear()

    def xdotool(self, *args: str) -> str:
        result = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=10)
        return result.stdout.strip()

    def windows(self, name: str, visible: bool = False) -> list[str]:
        return self.xdotool("search", *(["--onlyvisible"] if visible else []), "--name", name).split()

    def window_name(self, window: str) -> str:
        return self.xdotool("getwindowname", window)

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        """x, y, width, height; all zero when the window has gone meanwhile (menus come and go)."""
        text = self.xdotool("getwindowgeometry", window)
        position = re.search(r"Position: (-?\d+),(-?\d+)", text)
        size = re.search(r"Geometry: (\d+)x(\d+)", text)
        if not (position and size):
            return 0, 0, 0, 0
        return int(position[1]), int(position[2]), int(size[1]), int(size[2])

    def menus(self) -> list[str]:
        """Visible popup windows big enough to be a menu (the tray panel and icon are 32 px high)."""
        found = []
        for window in self.windows("", visible=True):
            x, y, w, h = self.geometry(window)
            if h > 60 and (w, h) != self.size:
                found.append(window)
        return found

    def click(self, window: str, button: int = 1) -> None:
        _, _, w, h = self.geometry(window)
        self.xdotool("mousemove", "--window", window, str(w // 2), str(h // 2), "click", str(button))

    def keys(self, *keys: str) -> None:
        self.xdotool("key", "--delay", "40", *keys)

    def screenshot(self, path: Path | None = None) -> Image.Image:
        """The whole screen as a person would see it (saved to `path` when given)."""
        image = ImageGrab.grab(xdisplay=self.env["DISPLAY"])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
        return image

    def settle(self, seconds: float = 0.3) -> None:
        time.sleep(seconds)  # lets the X server and GTK draw; nothing is asserted on timing
