"""Start the tray at log-in: an XDG autostart `.desktop` file on Linux, a registry Run value on Windows.

`tray_command` builds the argv; the platform parts only quote and store it, so both are testable on Linux.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

DESKTOP_NAME = "image-engine-tray.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "Image Engine tray"
_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def tray_command(config: Path | None, executable: str | None = None, windows: bool | None = None) -> list[str]:
    """The argv that starts the tray with this interpreter (the venv's) and config, from any folder."""
    windows = sys.platform == "win32" if windows is None else windows
    python = executable or sys.executable
    if windows:
        quiet = Path(python).with_name("pythonw.exe")  # no console window at log-in
        python = str(quiet) if executable is None and quiet.exists() else python
    command = [python, "-m", "daemon"]
    if config is not None:
        command += ["--config", str(Path(config).expanduser().absolute())]
    return [*command, "tray"]


def desktop_exec(argv: list[str]) -> str:
    """An Exec= value for argv, quoted as the Desktop Entry spec says (then escaped as a string value)."""
    words = []
    for arg in argv:
        if arg and not _DESKTOP_RESERVED & set(arg):
            words.append(arg)
            continue
        inner = "".join("\\" + char if char in '"`$\\' else char for char in arg)
        words.append(f'"{inner}"')
    # The string-value escape rule applies before the quoting rule: a backslash is written twice;
    # '%' starts a field code and is written twice.
    return " ".join(words).replace("\\", "\\\\").replace("%", "%%")


def desktop_entry(argv: list[str]) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Image Engine tray\n"
        "Comment=Shows what Image Engine is doing; pause, resume or rescan it\n"
        f"Exec={desktop_exec(argv)}\n"
        "Icon=image-x-generic\n"
        "Terminal=false\n"
        "Categories=Graphics;Photography;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def autostart_dir(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"  # the spec ignores relative
    return root / "autostart"


def install_linux(argv: list[str], environ: dict[str, str] | None = None) -> Path:
    path = autostart_dir(environ) / DESKTOP_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(desktop_entry(argv), encoding="utf-8")
    os.replace(temporary, path)
    return path


def remove_linux(environ: dict[str, str] | None = None) -> Path | None:
    path = autostart_dir(environ) / DESKTOP_NAME
    if not path.exists():
        return None
    path.unlink()
    return path


def windows_command_line(argv: list[str]) -> str:
    """The Run value's data: one command line, quoted the way Windows' CommandLineToArgvW splits it."""
    return subprocess.list2cmdline(argv)


def install_windows(argv: list[str], registry: Any = None) -> str:
    """Write HKCU\\...\\Run\\"Image Engine tray"; `registry` is the winreg module (passed in by tests)."""
    winreg = registry or _winreg()
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
        winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, windows_command_line(argv))
    return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"


def remove_windows(registry: Any = None) -> str | None:
    winreg = registry or _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, RUN_VALUE)
    except FileNotFoundError:
        return None
    return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"


def install(config: Path | None) -> str:
    """Register the tray to start at log-in on this platform; returns where it was written."""
    argv = tray_command(config)
    if sys.platform == "win32":
        return install_windows(argv)
    if sys.platform == "darwin":
        raise OSError("autostart on macOS is not supported yet: add `image-engine tray` to your Login Items")
    return str(install_linux(argv))


def remove() -> str | None:
    """Undo install(); returns what was removed, or None when there was nothing."""
    if sys.platform == "win32":
        return remove_windows()
    if sys.platform == "darwin":
        return None
    removed = remove_linux()
    return str(removed) if removed else None


def _winreg() -> Any:
    import winreg  # Windows only

    return winreg
