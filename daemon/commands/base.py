"""What every command shares: the exit codes, the config file it names, the config, and a control client.

Command modules import this, never `daemon.cli` (the CLI imports them: one direction only).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.config import Config, default_config_path, load_config
from daemon.errors import EXIT_CONFIG, EXIT_RUNTIME, EXIT_UNREACHABLE

if TYPE_CHECKING:
    from daemon.control.client import ControlClient
    from daemon.control.offline import StoreOnlyFallback

__all__ = [
    "EXIT_CONFIG",
    "EXIT_RUNTIME",
    "EXIT_UNREACHABLE",
    "Command",
    "client_for",
    "config_path",
    "get_config",
    "taken_line",
]

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


def client_for(args: argparse.Namespace) -> ControlClient | StoreOnlyFallback:
    from daemon.control.client import ControlClient  # lazy: keeps the CLI light
    from daemon.control.offline import StoreOnlyFallback

    config = get_config(args)
    return StoreOnlyFallback(ControlClient(config.data_dir), config)  # jobs, retry, plan work with no service


def taken_line(found: dict[str, Any]) -> str:
    """'taken 2016-05-01 10:00:00 (from ModifyDate; DateTimeOriginal ... not trusted ...)' for jobs and tags."""
    note = f"; {found['taken_note']}" if found.get("taken_note") else ""
    return f"taken {str(found['taken']).replace('T', ' ')} (from {found.get('taken_source') or '?'}{note})"
