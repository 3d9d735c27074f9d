"""`image-engine search "QUERY" [--after/--before DATE] [--camera] [--folder] [--keyword] [--category] [--min-quality]`.

Asks the running service (POST /search) and prints each match with the fields and words that made it match.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from daemon.commands import base

SLOW_REQUEST_SECONDS = 300.0  # with CLIP the first search may load the model (framework import + weights)
FILTERS = ("after", "before", "camera", "folder", "keyword", "category", "person", "min_quality")


def add_parsers(sub: Any) -> None:
    search = sub.add_parser(
        "search",
        help='photos by keyword, caption, text in the photo, folder, file name or camera, e.g. "cat sofa"',
        description='Words must all match; "a phrase" in quotes; -word excludes; word* is a prefix; field:word looks'
        " in one field (keyword, caption, text, folder, name, camera, place). With the CLIP backend, photos that"
        " look like the words are merged in.",
    )
    search.add_argument("text", nargs="?", default="")
    search.add_argument("--after", help="taken on or after this date (YYYY-MM-DD)")
    search.add_argument("--before", help="taken on or before this date (YYYY-MM-DD)")
    search.add_argument("--camera", help="camera make or model contains this")
    search.add_argument("--folder", help="only photos under this folder")
    search.add_argument("--keyword", help="only photos with this keyword")
    search.add_argument("--category", help="only photos in this category")
    search.add_argument("--person", help="only photos of this person (a name given with `people name`)")
    search.add_argument("--min-quality", type=float, help="only photos whose quality score (0..100) is at least this")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true")


def describe(why: list[dict[str, Any]]) -> str:
    parts = []
    for reason in why:
        if reason["field"] == "image":
            parts.append(f"looks like it (CLIP {reason['similarity']:.2f})")
        else:
            parts.append(f"{reason['field']}: {', '.join(reason['words'])}")
    return "; ".join(parts)


def search(args: argparse.Namespace) -> int:
    from daemon.control.client import ControlClient

    body: dict[str, Any] = {"text": args.text, "limit": args.limit}
    body.update({name: getattr(args, name) for name in FILTERS if getattr(args, name) is not None})
    if args.folder:
        body["folder"] = str(Path(args.folder).expanduser().absolute())
    data = ControlClient(base.get_config(args).data_dir, timeout=SLOW_REQUEST_SECONDS).post("/search", body)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    if data.get("note"):
        print(f"({data['note']})")
    if not data["results"]:
        print("no matches")
        return 0
    for match in data["results"]:
        why = describe(match["why"])
        print(f"{match['path']}" + (f"   [{why}]" if why else ""))
    return 0


COMMANDS: dict[str, base.Command] = {"search": search}
