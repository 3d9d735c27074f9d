"""`image-engine ui`: open the review app in the browser through a one-time login link (two minutes, single use).

`--print-url` prints the link instead (for scripts, or a browser started some other way on this machine).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from daemon.commands import base


def add_parsers(sub: Any) -> None:
    ui = sub.add_parser("ui", help="open the review app in the browser (see and correct what the engine did)")
    ui.add_argument("--print-url", action="store_true", help="print the one-time login link instead of opening it")


def ui(args: argparse.Namespace) -> int:
    link = base.client_for(args).post("/ui/login")["url"]
    if args.print_url:
        print(link)
        return 0
    import webbrowser

    if not webbrowser.open(link):
        print(f"image-engine: no browser could be started; open this link (valid two minutes): {link}", file=sys.stderr)
        return base.EXIT_RUNTIME
    print("opened the review app in the browser")
    return 0


COMMANDS: dict[str, base.Command] = {"ui": ui}
