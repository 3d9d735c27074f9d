"""The tray without a display: what it shows for each service state, its icons, its actions against the real
service, its autostart entries, and that it never imports the engine's internals.

The desktop end-to-end run (Xvfb, trayer, clicks) is in test_tray_desktop.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from daemon.control.client import ControlClient
from tests.desktop import need_gio
from tests.support import REPO, Engine, copy_in, corpus, wait_for
from tray import autostart
from tray.actions import ActionFailed, Actions, Places, failed_report
from tray.icon import COLOURS, draw, sheet
from tray.state import (
    TOOLTIP_LIMIT,
    Poller,
    View,
    derive,
    gpu_text,
    keyboard_steps,
    menu_entries,
    next_batch_start,
)

ARTIFACTS = REPO / "test-artifacts"
NOW = 1_800_000_000.0


def status(state: str = "running", errors: list | None = None, gpu: object = "none", **jobs: int) -> dict:
    counts = {"queued": 0, "running": 0, "done": 0, "failed": 0, "waiting": 0, **jobs}
    return {"state": state, "jobs": counts, "errors": errors or [], "done_today": counts["done"], "gpu": gpu}


def failure(age: float) -> dict:
    return {"at": NOW - age, "event": "job_failed", "path": "/x.jpg", "detail": "probe: not an image"}


# --- the boundary -----------------------------------------------------------------------------------------------


def test_importing_the_tray_pulls_in_no_engine_internals_torch_or_pystray() -> None:
    code = (
        "import sys, json\n"
        "import tray, tray.state, tray.icon, tray.actions, tray.autostart, tray.app\n"
        "heavy = ('torch', 'transformers', 'onnxruntime', 'pystray', 'daemon.store', 'daemon.runtime.app',"
        " 'daemon.pipeline', 'daemon.watch', 'daemon.config', 'sqlite3', 'watchdog')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h in heavy)))))"
    )
    env = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_tray_without_a_desktop_exits_with_a_clear_message(engine_factory) -> None:
    engine: Engine = engine_factory(start=False)
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "--config", str(engine.config), "tray"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no desktop tray to show the icon in" in result.stderr
    assert "Traceback" not in result.stderr


# --- what each state shows --------------------------------------------------------------------------------------


def test_each_service_state_gets_its_own_picture_tooltip_and_menu() -> None:
    idle = derive(status(done=7), NOW)
    assert (idle.kind, idle.status_line) == ("idle", "Idle · 7 done today")
    assert "Image Engine: idle" in idle.tooltip and "0 queued · 7 done today · 0 failed" in idle.tooltip

    working = derive(status(queued=6, running=2, done=12), NOW, batch_start=4)
    assert working.kind == "working" and working.progress == pytest.approx(8 / 16)
    assert working.status_line == "Working · 8 queued · 50%"

    paused = derive(status("paused", queued=3), NOW)
    assert paused.kind == "paused"
    labels = [entry.label for entry in menu_entries(paused)]
    assert "Resume" in labels and "Pause" not in labels
    assert "Pause" in [entry.label for entry in menu_entries(idle)]

    unreachable = View("unreachable", problem="the service is not running (no /d/control.json)")
    assert unreachable.status_line == "Service not running"
    assert unreachable.tooltip == "Image Engine: service not running"
    greyed = {entry.action for entry in menu_entries(unreachable) if entry.action and not entry.enabled}
    assert greyed == {"pause", "rescan", "show_failed"}
    assert View("unreachable", problem="HTTP 401: missing or wrong token").status_line.startswith(
        "Service not reachable: HTTP 401"
    )


def test_recent_failures_turn_the_icon_red_and_old_ones_do_not() -> None:
    recent = derive(status(failed=2, done=5, errors=[failure(60)]), NOW)
    assert recent.kind == "error" and recent.status_line == "2 failed recently · 5 done today"
    old = derive(status(failed=2, done=5, errors=[failure(3 * 3600)]), NOW)
    assert old.kind == "idle" and "2 failed" in old.status_line
    retried = derive(status(failed=0, errors=[failure(60)]), NOW)  # `retry` queued them again: no longer red
    assert retried.kind == "idle"
    busy = derive(status(queued=4, failed=1, errors=[failure(60)]), NOW, batch_start=0)
    assert busy.kind == "working" and busy.picture[2], "working with fresh failures carries the red badge"


def test_the_progress_ring_follows_the_current_backlog_only() -> None:
    start = next_batch_start(None, status(queued=10, done=500))
    assert start == 500, "a long history of done jobs does not fill the ring"
    assert derive(status(queued=10, done=500), NOW, start).progress == 0
    start = next_batch_start(start, status(queued=5, running=1, done=504))
    assert start == 500
    assert derive(status(queued=5, running=1, done=504), NOW, start).progress == pytest.approx(4 / 10)
    assert next_batch_start(start, status(done=510)) is None, "an empty queue ends the batch"
    assert next_batch_start(500, status(queued=3, done=2)) == 2, "a new database starts a new ring"


def test_gpu_and_long_texts_fit_the_tooltip() -> None:
    assert gpu_text("none") is None and gpu_text(None) is None
    assert gpu_text(37.4) == "GPU 37%"
    assert gpu_text({"name": "NVIDIA RTX 4070", "utilization": 63}) == "NVIDIA RTX 4070 63%"
    assert gpu_text({"name": "RTX", "state": "busy (game running)"}) == "RTX: busy (game running)"
    assert gpu_text("cuda:0 NVIDIA GeForce") == "GPU: cuda:0 NVIDIA GeForce"
    view = derive(status(queued=123456, done=99999, failed=4321, waiting=77, gpu="x" * 300), NOW, 0)
    assert len(view.tooltip) <= TOOLTIP_LIMIT
    assert view.tooltip.splitlines()[1] == "123456 queued · 99999 done today · 4321 failed"


def test_keyboard_steps_skip_greyed_out_lines() -> None:
    live, down = View("idle"), View("unreachable", problem="x")
    assert keyboard_steps(menu_entries(live), "pause") == 1
    assert keyboard_steps(menu_entries(live), "quit") == 7
    assert keyboard_steps(menu_entries(down), "open_drop") == 1
    assert keyboard_steps(menu_entries(down), "quit") == 4


# --- the icons ----------------------------------------------------------------------------------------------------


def _mean_colour(image: Image.Image) -> tuple[float, ...]:
    pixels = np.asarray(image, dtype=float).reshape(-1, 4)
    return tuple(pixels[pixels[:, 3] > 200, :3].mean(axis=0))


def _share(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    """The fraction of the picture (opaque pixels included or not) that is within `tolerance` of `colour`."""
    pixels = np.asarray(image, dtype=int).reshape(-1, 4)
    near = (pixels[:, 3] > 200) & (np.abs(pixels[:, :3] - colour).max(axis=1) <= tolerance)
    return float(near.mean())


def test_state_pictures_stay_distinct_at_16_pixels_and_the_ring_fills() -> None:
    big = {kind: draw(kind, 0.5) for kind in COLOURS}
    assert all(image.size == (64, 64) and image.mode == "RGBA" for image in big.values())
    small = {kind: _mean_colour(draw(kind, 0.5, size=16)) for kind in COLOURS}
    for first in small:
        for second in small:
            if first < second:
                distance = sum((a - b) ** 2 for a, b in zip(small[first], small[second], strict=True)) ** 0.5
                assert distance > 40, (first, second, small[first], small[second])
    blue = COLOURS["working"]
    shares = [_share(draw("working", progress), blue) for progress in (0.1, 0.4, 0.7, 1.0)]
    assert shares == sorted(shares) and shares[-1] > 2 * shares[0], shares
    corner = (48, 0, 64, 16)
    plain, badged = draw("paused").crop(corner), draw("paused", badge=True).crop(corner)
    assert _share(badged, COLOURS["error"]) > _share(plain, COLOURS["error"]) + 0.2
    with pytest.raises(ValueError, match="unknown tray state"):
        draw("sleepy")
    ARTIFACTS.mkdir(exist_ok=True)
    picture = sheet()
    picture.resize((picture.width * 2, picture.height * 2), Image.Resampling.NEAREST).save(ARTIFACTS / "tray-icons.png")


# --- the poller and the actions against the real service ----------------------------------------------------------


def test_poller_and_actions_drive_the_real_service_and_survive_its_restart(engine_factory, tmp_path: Path) -> None:
    engine: Engine = engine_factory()
    opened: list[Path] = []
    client = ControlClient(engine.data, timeout=1.5)
    places = Places(engine.data, [engine.drop], engine.library, engine.data / "logs" / "image-engine.log")
    poller, actions = Poller(client), Actions(client, places, opened.append)
    assert poller.poll().kind == "idle"

    assert actions.perform("pause") == "Paused: no new work starts"
    assert engine.status()["state"] == "paused" and poller.poll().kind == "paused"
    assert actions.perform("resume") == "Resumed"
    assert engine.status()["state"] == "running" and poller.poll().kind == "idle"
    assert actions.perform("rescan") == "Rescan started"
    assert wait_for(lambda: client.get("/scan?id=2")["state"] == "done", 10, message="the second scan")

    broken = copy_in([corpus() / "broken" / "beach.jpg"], engine.drop)[0]
    wait_for(lambda: engine.status()["jobs"]["failed"] == 1, 30, message="the broken file to fail")
    view = poller.poll()
    assert view.kind == "error" and view.failed == 1
    actions.perform("show_failed")
    listing_path = opened[-1]
    assert listing_path.suffix == ".txt"
    listing = listing_path.read_text(encoding="utf-8")
    assert str(broken) in listing and "probe" in listing, listing
    reason = client.get("/jobs?state=failed")["jobs"][0]["error"]
    assert reason in listing

    for action, place in (("open_drop", engine.drop), ("open_library", engine.library), ("open_log", places.log)):
        actions.perform(action)
        assert opened[-1] == place
    with pytest.raises(ActionFailed, match="does not exist yet"):
        Actions(client, Places(engine.data, [tmp_path / "gone"]), opened.append).perform("open_drop")

    engine.stop()
    down = poller.poll()
    assert down.kind == "unreachable" and down.status_line == "Service not running"
    with pytest.raises(ActionFailed, match="Pause failed: the service is not running"):
        actions.perform("pause")
    engine.start()  # a new process on a new port, written to control.json
    assert poller.poll().kind == "error", "the same poller finds the restarted service by itself"
    actions.forget()
    assert not listing_path.exists(), "the temporary failed-files list is removed when the tray quits"


def test_a_wrong_token_shows_as_not_reachable_with_the_reason(engine_factory) -> None:
    engine: Engine = engine_factory()
    view = Poller(ControlClient(engine.data, timeout=1.5, token="not-the-token")).poll()
    assert view.kind == "unreachable"
    assert view.status_line.startswith("Service not reachable: HTTP 401")


def test_failed_report_reads_well_when_empty_and_full() -> None:
    assert "No failed files." in failed_report([], NOW)
    job = {"path": "/p/a.jpg", "stage": "probe", "attempts": 1, "error": "not an image", "updated_at": NOW}
    text = failed_report([job], NOW)
    assert "1 failed file(s)" in text and "/p/a.jpg\n    probe stage, 1 attempt(s)" in text and "not an image" in text


# --- autostart -----------------------------------------------------------------------------------------------------


def test_autostart_install_and_remove_through_the_cli_and_the_entry_launches_that_command(
    engine_factory, tmp_path: Path
) -> None:
    gio = need_gio()
    engine: Engine = engine_factory(start=False)
    home, xdg = tmp_path / "home", tmp_path / "xdg config"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}
    cli = [sys.executable, "-m", "daemon", "--config", str(engine.config), "tray"]
    result = subprocess.run([*cli, "--install-autostart"], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    entry = xdg / "autostart" / autostart.DESKTOP_NAME
    assert str(entry) in result.stdout and entry.exists()
    info = gio.DesktopAppInfo.new_from_filename(str(entry))
    assert info is not None and info.get_name() == "Image Engine tray"
    assert info.get_commandline() is not None
    assert autostart.desktop_exec(autostart.tray_command(engine.config)) in entry.read_text()
    assert autostart.tray_command(engine.config) == [
        sys.executable,
        "-m",
        "daemon",
        "--config",
        str(engine.config),
        "tray",
    ]

    result = subprocess.run([*cli, "--remove-autostart"], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0 and not entry.exists() and str(entry) in result.stdout
    result = subprocess.run([*cli, "--remove-autostart"], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "no tray autostart entry" in result.stdout

    # Without XDG_CONFIG_HOME (or with a relative one, which the spec ignores) the entry goes to ~/.config/autostart.
    assert autostart.autostart_dir({"XDG_CONFIG_HOME": "relative"}) == Path.home() / ".config" / "autostart"


def test_the_desktop_exec_line_gives_back_every_argument_when_launched(tmp_path: Path) -> None:
    gio = need_gio()
    record = tmp_path / "argv.json"
    recorder = tmp_path / "recorder"
    recorder.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    recorder.chmod(0o755)
    odd = str(tmp_path / "my photos/config $HOME \"v2\" 100% back\\slash `x` 'q'.toml")
    argv = [str(recorder), "-m", "daemon", "--config", odd, "tray"]
    path = autostart.install_linux(argv, {"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert gio.DesktopAppInfo.new_from_filename(str(path)).launch([], None)
    assert wait_for(record.exists, 10, message="the launched command")
    assert json.loads(wait_for(lambda: record.read_text() or None, 5)) == argv[1:]


class FakeWinreg:
    """The registry for Windows code tested on Linux: one HKCU key store."""

    HKEY_CURRENT_USER, KEY_SET_VALUE, REG_SZ = "HKCU", 2, 1

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[int, str]] = {}

    def CreateKey(self, root: str, key: str) -> FakeKey:  # noqa: N802 - winreg's names
        return FakeKey(self, key)

    def OpenKey(self, root: str, key: str, reserved: int, access: int) -> FakeKey:  # noqa: N802
        return FakeKey(self, key)

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, data: str) -> None:  # noqa: N802
        self.values[(key.path, name)] = (kind, data)

    def DeleteValue(self, key: FakeKey, name: str) -> None:  # noqa: N802
        if (key.path, name) not in self.values:
            raise FileNotFoundError(name)
        del self.values[(key.path, name)]


class FakeKey:
    def __init__(self, registry: FakeWinreg, path: str):
        self.path = path

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_windows_autostart_is_a_run_value_with_a_quoted_pythonw_command_line() -> None:
    argv = autostart.tray_command(
        Path("C:/Users/Ann Lee/image engine.toml"),
        executable=r"C:\Program Files\Image Engine\venv\Scripts\pythonw.exe",
        windows=True,
    )
    line = autostart.windows_command_line(argv)
    assert line.startswith('"C:\\Program Files\\Image Engine\\venv\\Scripts\\pythonw.exe" -m daemon --config "')
    assert line.endswith('image engine.toml" tray')
    registry = FakeWinreg()
    where = autostart.install_windows(argv, registry)
    assert where == "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Image Engine tray"
    assert registry.values == {(autostart.RUN_KEY, autostart.RUN_VALUE): (registry.REG_SZ, line)}
    assert autostart.remove_windows(registry) == where and registry.values == {}
    assert autostart.remove_windows(registry) is None


def test_notices_from_actions_show_in_the_menu_for_a_while() -> None:
    clock = [NOW]
    poller = Poller(ControlClient(Path("/nonexistent"), timeout=0.2), clock=lambda: clock[0])
    poller.notify("Pause failed: the service is not running")
    view = poller.poll()
    assert view.notice.startswith("Pause failed") and menu_entries(view)[1].label == view.notice
    clock[0] += 60
    assert poller.poll().notice == ""


# --- the pystray glue, on pystray's dummy backend (no display) --------------------------------------------------------


def headless_pystray(monkeypatch) -> SimpleNamespace:
    """pystray's real Icon/Menu/MenuItem on its dummy backend, whose native updates (no display here) do nothing."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    pystray = pytest.importorskip("pystray")

    class HeadlessIcon(pystray.Icon):
        def _update_menu(self) -> None:
            pass

    return SimpleNamespace(Icon=HeadlessIcon, Menu=pystray.Menu, MenuItem=pystray.MenuItem)


def test_the_pystray_menu_built_from_the_view_drives_the_real_service(engine_factory, monkeypatch) -> None:
    from tray.app import TrayApp

    pystray = headless_pystray(monkeypatch)

    engine: Engine = engine_factory()
    client = ControlClient(engine.data, timeout=1.5)
    app = TrayApp(pystray, Poller(client), Actions(client, Places(engine.data, [engine.drop])), interval=0.1)
    app.step(0)

    def items() -> dict[str, object]:
        return {item.text: item for item in app.icon.menu.items if item is not pystray.Menu.SEPARATOR}

    assert app.icon.title.startswith("Image Engine: idle")
    assert not items()["Idle · 0 done today"].enabled
    items()["Pause"](app.icon)  # what the backend calls on a click
    app.step(0)
    assert engine.status()["state"] == "paused"
    assert app.icon.title.startswith("Image Engine: paused")
    assert "Resume" in items() and "Pause" not in items()
    assert "Paused: no new work starts" in items(), "the action's outcome is shown under the status line"
    items()["Resume"](app.icon)
    app.step(0)
    assert engine.status()["state"] == "running"

    engine.stop()
    app.step(0)
    assert app.icon.title == "Image Engine: service not running"
    assert not items()["Pause"].enabled and items()["Open drop folder"].enabled
