"""`image-engine undo` and `image-engine plan`: undo filing moves and show the dry-run plan, via the control API.

The running engine does the moves and updates the store; the CLI only asks and prints.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from typing import Any

from daemon.commands import base

UNDO_TIMEOUT = 600.0
RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_parsers(sub: Any) -> None:
    undo = sub.add_parser("undo", help="move filed photos back to where they were")
    which = undo.add_mutually_exclusive_group(required=True)
    which.add_argument("--job", type=int, help="undo the move of this job (see `image-engine jobs`)")
    which.add_argument("--since", help="undo moves made since TIME: 2024-05-01, '2024-05-01 14:30', or 2h / 3d ago")
    which.add_argument("--all", action="store_true", help="undo every move not undone yet")
    undo.add_argument("--dry-run", action="store_true", help="show what would move back, move nothing")
    undo.add_argument("--json", action="store_true")
    plan = sub.add_parser("plan", help="what a dry run ([rename] dry_run = true) would move where")
    plan.add_argument("--json", action="store_true")


def parse_since(text: str, now: float | None = None) -> float:
    """An absolute local date/time or an age like 90m, 2h, 3d; returns epoch seconds."""
    match = RELATIVE.match(text)
    if match:
        return (time.time() if now is None else now) - float(match[1]) * UNITS[match[2]]
    try:
        return dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since: cannot read {text!r}; use 2024-05-01, '2024-05-01 14:30' or 2h / 3d") from None


def undo(args: argparse.Namespace) -> int:
    from daemon.control.client import ApiError, ControlClient

    body: dict[str, Any] = {"dry_run": args.dry_run}
    if args.job is not None:
        body["job"] = args.job
    elif args.since:
        try:
            body["since"] = parse_since(args.since)
        except ValueError as exc:
            print(f"image-engine: {exc}", file=sys.stderr)
            return base.EXIT_CONFIG
    else:
        body["all"] = True
    client = ControlClient(base.get_config(args).data_dir, timeout=UNDO_TIMEOUT)
    try:
        data = client.post("/rename/undo", body)
    except ApiError as exc:
        if exc.status == 409:
            print(f"image-engine: undo refused, {str(exc).split(': ', 1)[-1]}", file=sys.stderr)
            return base.EXIT_RUNTIME
        raise
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    steps = data["steps"]
    verb = "would move back" if args.dry_run else "moved back"
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["status"]] = counts.get(step["status"], 0) + 1
        extra = f" (+{len(step['companions'])} companion(s))" if step["companions"] else ""
        if step["status"] in ("undone", "ready"):
            print(f"{verb}: {step['from']} -> {step['to']}{extra}")
        else:
            print(f"{step['status']}: {step['from']}: {step['reason']}")
    if not steps:
        print("nothing to undo")
    elif args.dry_run:
        print(f"dry run: {counts.get('ready', 0)} file(s) would move back; nothing was moved")
    else:
        print(f"{counts.get('undone', 0)} file(s) moved back, {len(steps) - counts.get('undone', 0)} not")
    return 0 if all(step["status"] in ("undone", "ready") for step in steps) else base.EXIT_RUNTIME


def plan(args: argparse.Namespace) -> int:
    data = base.client_for(args).get("/rename/plan")
    if args.json:
        print(json.dumps(data["plan"], indent=2))
        return 0
    for move in data["plan"]:
        extra = f" (+{len(move['companions'])} companion(s))" if move["companions"] else ""
        print(f"{move['src']} -> {move['dest']}{extra}")
    if not data["plan"]:
        print("no planned moves" + ("" if data["dry_run"] else " ([rename] dry_run is off: files are filed for real)"))
    else:
        print(f"{len(data['plan'])} planned move(s); nothing was moved (dry run)")
    return 0


COMMANDS: dict[str, base.Command] = {"undo": undo, "plan": plan}
