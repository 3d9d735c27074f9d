"""`image-engine faces [PATH]` and `image-engine people ...`: the faces found, the people they form, and the user's
word on them (name, merge, split, remove-face, show). Through the control API, or the store when no service runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from daemon.commands import base

ANSWER_WITHIN_SECONDS = 300.0


def add_parsers(sub: Any) -> None:
    faces = sub.add_parser("faces", help="faces found: box, score, person (of one photo or folder, or all)")
    faces.add_argument("path", nargs="?", help="a photo or a folder (default: every photo)")
    faces.add_argument("--json", action="store_true")
    people = sub.add_parser("people", help="people: list, name, merge, split, remove a face, show a person's photos")
    people.add_argument("--json", action="store_true")
    actions = people.add_subparsers(dest="people_action")
    name = actions.add_parser("name", help='name a person: people name 3 "Anna" (written into their photos)')
    name.add_argument("person", help="the person's id (or current name)")
    name.add_argument("name")
    merge = actions.add_parser("merge", help="the same person: people merge KEEP OTHER")
    merge.add_argument("keep")
    merge.add_argument("other")
    split = actions.add_parser("split", help="these faces are someone else: people split FACE... [--name NAME]")
    split.add_argument("faces", nargs="+", help="face ids (see `image-engine faces PATH`)")
    split.add_argument("--name", help="who they are (joins that person when known)")
    remove = actions.add_parser("remove-face", help="not this person (or not a face): never assigned again")
    remove.add_argument("face")
    show = actions.add_parser("show", help="the photos of a person: people show Anna")
    show.add_argument("person", help="a name or an id")
    show.add_argument("--json", action="store_true")
    actions.add_parser("recluster", help="group the unknown faces now (otherwise done when idle)")


def faces(args: argparse.Namespace) -> int:
    path = str(Path(args.path).expanduser().absolute()) if args.path else ""
    from urllib.parse import quote

    data = _client(args).get("/faces" + (f"?path={quote(path)}" if path else ""))
    if args.json:
        print(json.dumps(data["faces"], indent=2))
        return 0
    for face in data["faces"]:
        who = face["person"] or (f"person {face['person_id']}" if face["person_id"] else "unknown")
        score = f"{face['score']:.2f}" if face["score"] is not None else "from the file"
        x, y, w, h = face["box"]
        print(f"face {face['id']}  {face['path']}  {w}x{h} at {x},{y}  {score}  {who}")
    print(f"{len(data['faces'])} face(s)")
    return 0


def _client(args: argparse.Namespace) -> Any:
    """Re-clustering imports scikit-learn and runs DBSCAN (seconds): a longer wait than the default."""
    from daemon.control.client import ControlClient
    from daemon.control.offline import StoreOnlyFallback

    config = base.get_config(args)
    return StoreOnlyFallback(ControlClient(config.data_dir, timeout=ANSWER_WITHIN_SECONDS), config)


def people(args: argparse.Namespace) -> int:
    client = _client(args)
    action = args.people_action
    if action == "name":
        done = client.post("/people/name", {"person": args.person, "name": args.name})
        print(f"person {done['id']} is {done['name']}; {done['requeued']} photo(s) get the name written")
        return 0
    if action == "merge":
        done = client.post("/people/merge", {"keep": args.keep, "other": args.other})
        print(f"merged person {done['merged']} into {done['id']} ({done['faces_moved']} face(s) moved)")
        return 0
    if action == "split":
        done = client.post("/people/split", {"faces": args.faces, "name": args.name})
        print(f"face(s) {', '.join(map(str, done['faces']))} now person {done['id']}")
        return 0
    if action == "remove-face":
        done = client.post("/people/remove-face", {"face": args.face})
        print(f"face {done['face']} removed from person {done['was']}; it will not be assigned again")
        return 0
    if action == "recluster":
        done = client.post("/people/recluster")
        print(f"{done['grouped']} of {done['unknown_before']} unknown face(s) grouped: {done['new_people']} new")
        return 0
    if action == "show":
        from urllib.parse import quote

        found = client.get(f"/people/show?person={quote(args.person)}")
        if args.json or getattr(args, "json", False):
            print(json.dumps(found, indent=2))
            return 0
        print(f"{found['name'] or 'person ' + str(found['id'])}: {len(found['photos'])} photo(s)")
        for photo in found["photos"]:
            print(f"  {photo['path']}")
        return 0
    listing = client.get("/people")["people"]
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for person in listing:
        print(f"{person['id']:>5}  {person['name'] or '(unnamed)'}  {person['faces']} face(s)  e.g. {person['sample']}")
    print(f"{len(listing)} people")
    return 0


COMMANDS: dict[str, base.Command] = {"faces": faces, "people": people}
