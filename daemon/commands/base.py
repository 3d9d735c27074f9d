"""What every command shares: the exit codes, the config file it names, the config, and a control client.

Command modules import this, never `daemon.cli` (the CLI imports them: one direction only).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.config import Config, default_config_path, load_config
from daemon.errors import EXIT_CONFIG, EXIT_RUNTIME, EXIT_UNREACHABLE

if TYPE_CHECKING:
    from daemon.control.client import ControlClient

__all__ = ["EXIT_CONFIG", "EXIT_RUNTIME", "EXIT_UNREACHABLE", "Command", "client_for", "config_path", "get_config"]

Command = Callable[[argparse.Namespace], int]


def config_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "config", None):
        return Path(args.config)
    if os.environ.get("IMAGE_ENGINE_CONFIG"):
        return Path(os.environ["IMAGE_ENGINE_CONFIG"])
    default = default_config_path()
    return default if default.exists() else None


def get_config(args: argparse.Namespace) -> Config:
    return load_config(config_path(args))


def client_for(args: argparse.Namespace) -> ControlClient:
    from daemon.control.client import ControlClient  # lazy: keeps the CLI light

    return ControlClient(get_config(args).data_dir)
