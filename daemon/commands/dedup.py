"""`image-engine dupes`: list duplicate groups, mark files as not duplicates, apply the policy to existing groups.

Talks to the running service through the control API (daemon/control/dedup.py).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from daemon.commands import base

# What `dupes --resolve` would do, said before the user types it.
RESOLVE_DOES = {
    "report": '`image-engine dupes --resolve` only records them: under action "report" no file is tagged or moved',
    "tag": "`image-engine dupes --resolve` writes the duplicate keyword into the copies that are now duplicates",
    "move": "`image-engine dupes --resolve` moves the copies that are now duplicates into the duplicates folder"
    " (`image-engine undo` moves them back)",
}


def add_parsers(sub: Any) -> None:
    dupes = sub.add_parser("dupes", help="duplicate groups: which copy is kept and why")
    dupes.add_argument("--json", action="store_true", help="print the groups as JSON")
    dupes.add_argument(
        "--not-duplicates",
        nargs="+",
        metavar="GROUP|PATH",
        help="these are distinct photos: a group number (all its members), one file (apart from its group) "
        "or several files (apart from each other); remembered across restarts and rescans",
    )
    dupes.add_argument(
        "--resolve", action="store_true", help="apply the [dedup] action to existing groups (tag or move)"
    )
    dupes.add_argument("--keep", nargs="+", metavar="PATH", help="keep these copies: never trashed nor tagged")
    dupes.add_argument(
        "--trash",
        nargs="+",
        metavar="PATH",
        help="move these copies into the duplicates folder (`image-engine undo` moves them back)",
    )
    dupes.add_argument(
        "--keep-suggested",
        action="store_true",
        help="every group not decided yet: keep the suggested copy, trash the others",
    )


def dupes(args: argparse.Namespace) -> int:
    client = base.client_for(args)
    if args.not_duplicates:
        groups, paths = split_targets(args.not_duplicates)
        answer = client.post("/dupes/distinct", {"groups": groups, "paths": paths})
        regrouped = ", ".join(map(str, answer["groups"])) or "none"
        print(f"recorded {answer['pairs']} pair(s) as not duplicates; groups they are in now: {regrouped}")
        return 0
    if args.keep or args.trash or args.keep_suggested:
        body = {
            "keep": [str(Path(p).resolve()) for p in args.keep or []],
            "trash": [str(Path(p).resolve()) for p in args.trash or []],
            "suggested": args.keep_suggested,
        }
        answer = client.post("/dupes/choose", body)
        moving = answer["requeued"].get("rename", 0)
        print(f"kept {answer['kept']}, trashed {answer['trashed']}: {moving} file(s) move to the duplicates folder")
        for item in answer["not_applied"]:
            print(f"  not applied: {item['path']}: {item['why']}")
        return 0
    if args.resolve:
        answer = client.post("/dupes/resolve")
        requeued = ", ".join(f"{count} at {stage}" for stage, count in answer["requeued"].items()) or "none"
        print(f"action {answer['action']}: {answer['updated']} decision(s) updated, re-queued: {requeued}")
        for item in answer["not_applied"]:
            print(f"  not applied: {item['path']}: {item['why']}")
        return 0
    data = client.get("/dupes")
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print_groups(data)
    return 0


def split_targets(targets: list[str]) -> tuple[list[int], list[str]]:
    """Numbers are group numbers unless such a file exists; everything else is a path (made absolute)."""
    groups, paths = [], []
    for target in targets:
        if target.isdigit() and not os.path.exists(target):
            groups.append(int(target))
        else:
            paths.append(str(Path(target).resolve()))
    return groups, paths


def print_groups(data: dict[str, Any]) -> None:
    for group in data["groups"]:
        members = group["members"]
        print(f"group {group['group']} ({group['kind']}, {len(members)} files) keeps {group['keeper']}")
        print(f"  why: {group['why']}")
        for member in members:
            mark = "*" if member["keeper"] else " "
            size = f"{member['width']}x{member['height']}" if member["width"] else "?"
            line = f"  {mark} {member['path']}  {size}  {_size(member['size'])}"
            if not member["keeper"]:
                line += f"  ({member['kind']} duplicate)"
            if not member["present"]:
                line += "  [missing]"
            print(line)
        for change in group["keeper_changes"]:
            print(f"  keeper changed: {change['old_keeper']} -> {change['new_keeper']} ({change['reason']})")
    print(f"{len(data['groups'])} group(s); action: {data['action']}")
    if data["pending"]:
        print(f"{data['pending']} decision(s) changed since their files were processed; {RESOLVE_DOES[data['action']]}")


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"


COMMANDS: dict[str, base.Command] = {"dupes": dupes}
