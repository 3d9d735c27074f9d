"""`image-engine models | similar PATH | tags PATH`: AI tagging as seen through the control API.

The handlers only talk to the running service; nothing here imports a model framework.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from daemon.commands import base


def add_parsers(sub: Any) -> None:
    models = sub.add_parser("models", help="the tagging model: configured, present, loaded, on which device")
    models.add_argument("--json", action="store_true")
    similar = sub.add_parser("similar", help="photos that look like PATH (stored image embeddings)")
    similar.add_argument("path")
    similar.add_argument("--limit", type=int, default=10)
    similar.add_argument("--by", choices=("image", "face"), default="image", help="face: photos of the same people")
    similar.add_argument("--json", action="store_true")
    tags = sub.add_parser("tags", help="the keywords, category and facts stored for PATH")
    tags.add_argument("path")
    tags.add_argument("--json", action="store_true")


def _client(args: argparse.Namespace, timeout: float = 10.0):  # noqa: ANN202 - lazy import keeps the CLI light
    from daemon.control.client import ControlClient

    return ControlClient(base.get_config(args).data_dir, timeout=timeout)


def _path(value: str) -> str:
    return str(Path(value).expanduser().absolute())


def models(args: argparse.Namespace) -> int:
    data = _client(args).get("/models")
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    if not data["enabled"]:
        print(f"tagging is off ([tagging] enabled = false; backend would be {data['backend']})")
        return 0
    state = "loaded" if data["loaded"] else "not loaded (loads on the next photo)" if data["present"] else "missing"
    print(f"backend: {data['backend']}   model: {data['model'] or '?'}   {state}")
    if data["missing"]:
        print(f"  what to do: {data['missing']}")
    device = data["device"] or "-"
    print(f"device: {device} (setting: {data['device_setting']})   batch size: {data['batch_size']}")
    print(f"unloads after {data['idle_unload_seconds']:g} s idle; loaded {data['loads']} time(s) since start")
    print("text search: " + ("yes" if data["text_search"] else 'no (needs backend = "clip")'))
    adjusted = [k for k in _client(args).get("/vocabulary")["keywords"] if k["adjustment"]]
    for state, said in (("raised", "threshold raised"), ("muted", "no longer proposed")):
        names = [k["keyword"] for k in adjusted if k["adjustment"]["state"] == state]
        if names:
            print(f"learned from your corrections, {said}: {', '.join(names)} (image-engine vocabulary)")
    return 0


def _show_matches(data: dict[str, Any], as_json: bool, what: str) -> int:
    if as_json:
        print(json.dumps(data, indent=2))
        return 0
    if not data["results"]:
        print(f"no {what} among the photos embedded with {data['model']}")
        return 0
    for match in data["results"]:
        print(f"{match['score']:.3f}  {match['path']}")
    return 0


def similar(args: argparse.Namespace) -> int:
    query = urlencode({"path": _path(args.path), "limit": args.limit, "by": args.by})
    return _show_matches(_client(args).get(f"/similar?{query}"), args.json, "similar photos")


def tags(args: argparse.Namespace) -> int:
    data = _client(args).get(f"/tags?{urlencode({'path': _path(args.path)})}")
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    show_taken_and_place(data)
    show_scores(data)
    if not data.get("model"):
        print(f"{args.path}: {data.get('why_not') or 'not tagged yet'}", file=sys.stderr)
        return base.EXIT_RUNTIME
    print(f"{data['path']}  ({data['model']})")
    if data.get("category"):
        print(f"category: {data['category']} ({data['category_score']:.2f})")
    if data.get("caption"):
        print(f"caption: {data['caption']}")
    for keyword in data["keywords"]:
        hierarchy = f"   [{keyword['hierarchy']}]" if keyword["hierarchy"] else ""
        if keyword.get("source") == "user":
            score = "user"
        else:
            score = "fact" if keyword["score"] is None else f"{keyword['score']:.2f}"
        print(f"  {score:>4}  {keyword['keyword']}{hierarchy}")
    rejected = (data.get("corrections") or {}).get("rejected")
    if rejected:
        print(f"rejected by you (never written again): {', '.join(rejected)}")
    blurry = ", blurry" if data.get("blurry") else ""
    print(
        f"facts: sharpness {data['sharpness']:.0f}{blurry}, exposure {data['exposure']}, {data['orientation']},"
        f" colours {', '.join(data['colours'] or [])}"
    )
    return 0


def show_scores(data: dict[str, Any]) -> None:
    """The analyzers' scores (quality 0..100, sensitive 0..1) and the photo's burst, when it is in one."""
    for name, score in sorted((data.get("scores") or {}).items()):
        print(f"{name}: {score:g}")
    burst = data.get("burst")
    if burst:
        best = next(frame for frame in burst["frames"] if frame["file_id"] == burst["best"])
        mine = "this one" if best["path"] == data["path"] else best["path"]
        print(f"burst of {len(burst['frames'])} frames; best of burst (highest quality): {mine}")


def show_taken_and_place(data: dict[str, Any]) -> None:
    if data.get("taken"):
        print(base.taken_line(data))
    place = data.get("place")
    if place:
        names = ", ".join(str(place[key]) for key in ("city", "region", "country") if place.get(key))
        print(f"place: {names} ({place['distance_km']:g} km from the town's centre; {place['gazetteer']})")


COMMANDS: dict[str, base.Command] = {"models": models, "similar": similar, "tags": tags}
