"""`image-engine tray`: show the tray icon for the service this config points at; install or remove its autostart.

The tray process reads the same config as the CLI (for the data folder, drop folder, library, log) and then
speaks only the control API; it never starts or stops the service.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from daemon.commands import base


def add_parsers(sub: Any) -> None:
    tray = sub.add_parser("tray", help="show the tray icon (pause, resume, rescan, open folders)")
    group = tray.add_mutually_exclusive_group()
    group.add_argument("--install-autostart", action="store_true", help="start the tray at log-in (this user)")
    group.add_argument("--remove-autostart", action="store_true", help="stop starting the tray at log-in")
    tray.add_argument("--interval", type=float, default=2.0, help="seconds between polls of the service (default 2)")


def tray(args: argparse.Namespace) -> int:
    from tray import autostart

    if args.remove_autostart:
        removed = autostart.remove()
        print(f"removed {removed}" if removed else "no tray autostart entry was installed")
        return 0
    config_file = base.config_path(args)
    config = base.get_config(args)
    if args.install_autostart:
        print(f"the tray starts at log-in: {autostart.install(config_file)}")
        return 0
    if args.interval <= 0:
        print("image-engine tray: --interval must be more than 0 seconds", file=sys.stderr)
        return base.EXIT_CONFIG
    from tray.actions import Places
    from tray.app import run_tray

    logging.basicConfig(level=logging.INFO, format="%(asctime)s tray %(levelname)s %(message)s", stream=sys.stderr)
    drops = [watch.path for watch in config.watch if watch.mode == "drop"] or [watch.path for watch in config.watch]
    places = Places(config.data_dir, drops, config.library.root, config.log_path)
    return run_tray(config.data_dir, places, args.interval)


COMMANDS: dict[str, base.Command] = {"tray": tray}
