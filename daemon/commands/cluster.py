"""`image-engine backfill PATH... [--ray auto|HOST:PORT]`: a first pass over existing folders, here or on Ray.

The running service plans and records the work; this command starts it and shows its progress until it ends.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from daemon.commands import base

FINAL_STATES = ("done", "failed", "stopped")


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "backfill",
        help="process the files not yet done under folders (locally or on Ray)",
        description=textwrap.fill(
            "A first pass over existing folders (inside a watched folder or the library, watched or not): the"
            " service queues the files not yet recorded as they are now and processes them, showing progress until"
            " it ends. With --ray, probe, hash, tag and the analyzers run on a Ray cluster while this service"
            " records every result and runs dedup, rename and metadata itself ([cluster] in the config).",
            78,
        ),
        epilog="example:\n  image-engine backfill /nas/photos\n  image-engine backfill /nas/photos --ray head:6379",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders inside a watched folder or the library")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="auto|HOST:PORT",
        help="run probe, hash, tag and analyzers on a Ray cluster (auto: the one this machine has joined)",
    )
    parser.add_argument("--detach", action="store_true", help="start it and return; `status` shows progress")


def backfill(args: argparse.Namespace) -> int:
    client = base.client_for(args)
    paths = [str(Path(path).resolve()) for path in args.paths]
    started = client.post("/backfill", {"paths": paths, "ray": args.ray})
    where = "on the Ray cluster" if started["executor"] == "ray" else "locally"
    print(f"backfill of {', '.join(paths)} started {where}")
    if args.detach:
        return 0
    show_bar = sys.stderr.isatty()
    while True:
        progress = client.get("/backfill")
        if show_bar and progress.get("total"):
            width = 30
            filled = int(width * progress["done"] / progress["total"])
            sys.stderr.write(
                f"\r{progress['state']} [{'#' * filled}{'.' * (width - filled)}] {progress['done']}/{progress['total']}"
            )
            sys.stderr.flush()
        if progress.get("id") == started["id"] and progress["state"] in FINAL_STATES:
            break
        time.sleep(0.5)
    if show_bar:
        sys.stderr.write("\n")
    print(summary(progress))
    return 0 if progress["state"] == "done" else base.EXIT_RUNTIME


def summary(progress: dict[str, Any]) -> str:
    counts = progress.get("counts", {})
    where = (
        f"on the Ray cluster ({progress.get('nodes')} node(s), {progress.get('cpus', 0):g} CPUs, {progress.get('gpus', 0):g} GPUs)"
        if progress["executor"] == "ray"
        else "locally"
    )
    line = (
        f"backfill {progress['state']} {where}: {progress.get('total', 0)} photo(s), {counts.get('done', 0)} done,"
        f" {counts.get('failed', 0)} failed, {progress.get('photos_per_second')} photos/s"
    )
    if progress.get("error"):
        line += f"\n  {progress['error']}"
    return line


COMMANDS: dict[str, base.Command] = {"backfill": backfill}
