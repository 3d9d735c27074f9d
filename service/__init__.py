"""Install Image Engine as a system service: a systemd unit on Linux, a Windows service (pywin32 or WinSW).

No engine logic lives here: every service definition runs the same entry point as `image-engine run`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePath

from daemon.config import Config

SERVICE_NAME = "image-engine"
DISPLAY_NAME = "Image Engine"
DESCRIPTION = "Image Engine: watches photo folders, tags, de-duplicates, files and writes metadata."


class ServiceError(Exception):
    """An install/uninstall that cannot go ahead; the message says what to do."""


@dataclass(frozen=True)
class ServicePaths:
    """Absolute paths a service definition needs: the venv's entry points and the resolved config file."""

    executable: PurePath  # <venv>/bin/image-engine (Scripts\\image-engine.exe on Windows)
    python: PurePath  # <venv>/bin/python (Scripts\\python.exe): WinSW/shawl run `python -m daemon`
    config_file: PurePath

    @property
    def run_args(self) -> list[str]:
        """The arguments after the program: exactly `image-engine --config FILE run`."""
        return ["--config", str(self.config_file), "run"]


def venv_paths(config_file: Path, executable: Path | None = None) -> ServicePaths:
    """Entry points of the venv this interpreter runs in, or `executable` and the python beside it (not
    resolved: a venv reached through a symlink keeps that path, so re-creating the venv behind it keeps the
    service working)."""
    suffix = ".exe" if os.name == "nt" else ""
    executable = (executable or Path(sys.executable).parent / f"image-engine{suffix}").absolute()
    bin_dir = executable.parent
    if not executable.is_file():
        raise ServiceError(
            f"{executable} not found: install Image Engine into a venv first (scripts/setup.sh) and run this "
            "command with that venv's image-engine"
        )
    return ServicePaths(executable, bin_dir / f"python{suffix}", config_file.absolute())


def writable_paths(config: Config) -> list[Path]:
    """Folders the engine writes in: data folder, library, every watched folder (renames and metadata
    writes happen there), de-duplicated with nested folders folded into their parent, in a stable order."""
    candidates = [config.data_dir, config.library.root, *(watch.path for watch in config.watch)]
    absolute = [Path(os.path.abspath(path)) for path in candidates]
    kept: list[Path] = []
    for path in sorted(set(absolute), key=lambda p: (len(p.parts), str(p))):
        if not any(path == parent or parent in path.parents for parent in kept):
            kept.append(path)
    return sorted(kept, key=str)
