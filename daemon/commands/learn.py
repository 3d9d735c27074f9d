"""`image-engine teach KEYWORD PATH... | taught | untaught KEYWORD | vocabulary`: what the engine learned from you.

`teach --not PATH...` adds counter-examples; `teach --export FILE` / `--import FILE` move everything learned (taught
keywords and the adjustments below); `vocabulary` shows how you judged the model's own keywords and what changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from daemon.commands import base

TRAIN_SECONDS = 180.0


def add_parsers(sub: Any) -> None:
    teach = sub.add_parser(
        "teach", help="teach a keyword of your own from example photos, e.g. teach Felix a.jpg b.jpg"
    )
    teach.add_argument("keyword", nargs="?")
    teach.add_argument("paths", nargs="*", help="photos that show KEYWORD")
    teach.add_argument("--not", dest="negative", nargs="+", default=[], metavar="PATH", help="photos that do not")
    teach.add_argument("--export", metavar="FILE", help="write every taught keyword (or KEYWORD) to FILE")
    teach.add_argument("--import", dest="import_file", metavar="FILE", help="read taught keywords from FILE")
    teach.add_argument("--json", action="store_true")
    taught = sub.add_parser("taught", help="the keywords you taught: examples, estimated precision, photos tagged")
    taught.add_argument("--json", action="store_true")
    untaught = sub.add_parser("untaught", help="forget a taught keyword and remove it where it was learned")
    untaught.add_argument("keyword")
    words = sub.add_parser(
        "vocabulary",
        help="the model's keywords as you judged them (kept / rejected / untouched); thresholds raised, keywords muted",
    )
    words.add_argument("--all", action="store_true", help="every keyword the model proposed, not only judged ones")
    words.add_argument("--keep", metavar="KEYWORD", help="go on proposing KEYWORD as configured, whatever you rejected")
    words.add_argument("--adjust", metavar="KEYWORD", help="let your corrections adjust KEYWORD again (undoes --keep)")
    words.add_argument("--json", action="store_true")


def _client(args: argparse.Namespace):  # noqa: ANN202 - lazy import keeps the CLI light
    from daemon.control.client import ControlClient

    return ControlClient(base.get_config(args).data_dir, timeout=TRAIN_SECONDS)


def _path(value: str) -> str:
    return str(Path(value).expanduser().absolute())


def teach(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.export:
        data = client.get("/taught/export" + (f"?keyword={args.keyword}" if args.keyword else ""))
        Path(args.export).write_text(json.dumps(data, indent=1), encoding="utf-8")
        print(f"wrote {len(data['keywords'])} taught keyword(s) to {args.export}")
        return 0
    if args.import_file:
        try:
            data = json.loads(Path(args.import_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"image-engine: cannot read {args.import_file}: {exc}", file=sys.stderr)
            return base.EXIT_RUNTIME
        answer = client.post("/taught/import", data)
        for entry in answer["keywords"]:
            print(
                f"{entry['keyword']}: imported ({entry['examples']} example(s) found here, {entry['not_here']} not);"
                f" {entry['message']}"
            )
        if answer.get("vocabulary"):
            print(f"{answer['vocabulary']} keyword adjustment(s) learned from corrections imported")
        return 0
    if not args.keyword or not (args.paths or args.negative):
        print("image-engine: teach needs a keyword and example photos: teach KEYWORD PATH...", file=sys.stderr)
        return base.EXIT_CONFIG
    outcome: dict[str, Any] = {}
    for paths, negative in ((args.paths, False), (args.negative, True)):
        if paths:
            outcome = client.post(
                "/teach", {"keyword": args.keyword, "paths": [_path(p) for p in paths], "negative": negative}
            )
            for path in outcome.get("unknown", []):
                print(f"  not a photo the engine knows (outside the watched folders?): {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(outcome, indent=2))
        return 0
    print(outcome.get("message") or f"{args.keyword}: {outcome.get('state')}")
    return 0 if outcome.get("state") in ("ready", "too_few", "inconsistent", "no_embeddings") else base.EXIT_RUNTIME


def taught(args: argparse.Namespace) -> int:
    data = _client(args).get("/taught")
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    if not data["keywords"]:
        print("no taught keywords yet: image-engine teach KEYWORD PHOTO...")
        return 0
    for entry in data["keywords"]:
        precision = "-" if entry.get("precision") is None else f"{entry['precision']:.2f}"
        print(
            f"{entry['keyword']:<20} {entry['state']:<12} examples {entry['examples']:>3}"
            f" (not: {entry['counter_examples']})  precision {precision}  tagged {entry['learned']}"
            f"  v{entry['version']}"
        )
    learner = data.get("learner") or {}
    if learner.get("state") not in (None, "idle"):
        print(
            f"learning: {learner['state']} {learner.get('keyword', '')} {learner.get('done', 0)}/{learner.get('total', 0)}"
        )
    return 0


def untaught(args: argparse.Namespace) -> int:
    data = _client(args).post("/untaught", {"keyword": args.keyword})
    print(f"{args.keyword}: forgotten; removed from {data.get('removed', 0)} photo(s) where it was learned")
    return 0


def vocabulary(args: argparse.Namespace) -> int:
    client = _client(args)
    for keyword, route, said in ((args.keep, "keep", "proposed as configured"), (args.adjust, "adjust", "")):
        if keyword:
            answer = client.post(f"/vocabulary/{route}", {"keyword": keyword})
            print(f"{answer['keyword']}: {said or adjustment_text(answer)}")
            return 0
    data = client.get("/vocabulary" + ("?all=1" if args.all else ""))
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    if not data["keywords"]:
        print("no keyword of the model judged yet: reject or accept keywords on a photo page of the review app")
        return 0
    print(f"{'keyword':<24} {'on photos':>9} {'kept':>5} {'rejected':>8} {'untouched':>9}")
    for entry in data["keywords"]:
        print(
            f"{entry['keyword']:<24} {entry['proposed']:>9} {entry['accepted']:>5} {entry['rejected']:>8}"
            f" {entry['untouched']:>9}"
        )
        if entry["adjustment"]:
            print(f"  {adjustment_text(entry['adjustment'])}")
    return 0


def adjustment_text(adjustment: dict[str, Any]) -> str:
    if adjustment.get("state") in ("raised", "muted", "kept"):
        return str(adjustment.get("reason") or adjustment["state"])
    return "proposed as configured (not rejected often enough to change)"


COMMANDS: dict[str, base.Command] = {
    "teach": teach,
    "taught": taught,
    "untaught": untaught,
    "vocabulary": vocabulary,
}
