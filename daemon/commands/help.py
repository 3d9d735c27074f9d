"""What `image-engine COMMAND --help` says beyond its options: a description and an example for every command.

`describe(parser)` fills them in after every command has added its parser; a command may set its own instead.
"""

from __future__ import annotations

import argparse
import textwrap

# "command" or "command subcommand" -> (description, example lines)
HELP: dict[str, tuple[str, list[str]]] = {
    "run": (
        "Run the engine in the foreground: watch the folders, process photos, serve the control API. "
        "Stop it with Ctrl+C (or SIGTERM); the service unit runs exactly this.",
        ["image-engine run", "image-engine --config ~/photos.toml run"],
    ),
    "status": (
        "What the running service is doing: job counts, watched folders, the GPU, photos left unfiled and "
        "the last errors.",
        ["image-engine status", "image-engine status --json"],
    ),
    "pause": (
        "Stop starting new work; running jobs finish and watching goes on, so new photos are queued. "
        "The pause lasts across restarts until `image-engine resume`.",
        ["image-engine pause"],
    ),
    "resume": ("Start work again after `image-engine pause`.", ["image-engine resume"]),
    "scan": (
        "Compare a watched folder (or the library, or one folder inside them) with the store now: new and "
        "changed photos are queued, vanished ones marked missing. Without PATH, every watched folder.",
        ["image-engine scan", "image-engine scan ~/Pictures/Image\\ Engine\\ Library/2024"],
    ),
    "jobs": (
        "What happened to which file, and why: the newest jobs first, with the error, the reason a job waits, "
        "or why a photo was not filed.",
        ["image-engine jobs --state failed", "image-engine jobs --limit 500 | less"],
    ),
    "retry": ("Queue every failed job again (after fixing what its error says).", ["image-engine retry"]),
    "config": ("Tools for the config file.", ["image-engine config check ~/.config/image-engine/config.toml"]),
    "config check": (
        "Read and validate a config file without starting anything; every problem is listed with its key. "
        "Exits 2 when the file has problems.",
        ["image-engine config check config.toml"],
    ),
    "dupes": (
        "Duplicate groups: which copy is kept and why, the other copies, and what the [dedup] action does. "
        "Mark photos that are not duplicates, or apply the action to groups that changed.",
        ["image-engine dupes", "image-engine dupes --not-duplicates 12", "image-engine dupes --resolve"],
    ),
    "undo": (
        "Move filed photos (and their sidecars) back to where they came from, by job, by time or all.",
        ["image-engine undo --dry-run --since 2h", "image-engine undo --job 42"],
    ),
    "plan": (
        "With [rename] dry_run = true: where each photo would be filed. Nothing is moved.",
        ["image-engine plan"],
    ),
    "service": (
        "Install, remove or inspect the system service (systemd user unit, or a Windows service).",
        ["image-engine service install", "image-engine service status"],
    ),
    "service install": (
        "Write the service definition for this config and start it at boot (or log-in).",
        ["image-engine --config ~/photos.toml service install"],
    ),
    "service uninstall": ("Stop the service and remove its definition.", ["image-engine service uninstall"]),
    "service status": ("What the service manager says about the service.", ["image-engine service status"]),
    "models": (
        "The tagging model: which backend and model are configured, whether it is present and loaded, and on "
        "which device.",
        ["image-engine models", "image-engine models --json"],
    ),
    "similar": (
        "Photos that look like PATH, by their stored image embeddings (same model), most similar first.",
        ["image-engine similar ~/Pictures/cat.jpg --limit 5"],
    ),
    "search": (
        "Photos by everything the engine knows: keywords, caption, text read in the photo, folder and file "
        'name, camera, place; merged with CLIP similarity when [tagging] backend = "clip". Filters narrow it.',
        ['image-engine search "cat"', 'image-engine search "text:invoice" --after 2024-01-01 --camera canon'],
    ),
    "teach": (
        "Teach a keyword of your own from a few photos that show it (3 at least, better 5-10); the engine "
        "says how precise it expects to be, then tags new photos and the library with it.",
        [
            "image-engine teach Felix ~/Pictures/felix1.jpg ~/Pictures/felix2.jpg ~/Pictures/felix3.jpg",
            "image-engine teach Felix --not ~/Pictures/other-cat.jpg",
            "image-engine teach --export taught.json",
        ],
    ),
    "taught": (
        "The keywords you taught: examples, estimated precision, how many photos carry them.",
        ["image-engine taught", "image-engine taught --json"],
    ),
    "untaught": (
        "Forget a taught keyword and take it off every photo where it was learned (not where you added it).",
        ["image-engine untaught Felix"],
    ),
    "vocabulary": (
        "How you judged the model's own keywords in the review app (kept, rejected, untouched) and what the engine "
        "changed: a keyword rejected often gets a higher threshold, or is no longer proposed.",
        ["image-engine vocabulary", "image-engine vocabulary --keep tiger", "image-engine vocabulary --all"],
    ),
    "ui": (
        "Open the review app in the browser through a one-time login link (valid once, for two minutes).",
        ["image-engine ui", "image-engine ui --print-url"],
    ),
    "tags": (
        "The keywords, category, caption and facts stored for PATH, or why it has none (still queued, failed).",
        ["image-engine tags ~/Pictures/cat.jpg"],
    ),
    "tray": (
        "Show the tray icon for the running service: its state, pause and resume, rescan, open the folders.",
        ["image-engine tray"],
    ),
    "faces": (
        "Every face found (in one photo, the photos under a folder, or all): its id, box in the upright image's "
        "pixels, detector score, and the person it belongs to.",
        ["image-engine faces ~/Pictures/party.jpg", "image-engine faces ~/Pictures/2024 --json"],
    ),
    "people": (
        "The people the faces form: id, name, face count and a sample photo; and your word on them (name, "
        "merge, split, remove a face). Names are written into the photos (People|Name, PersonInImage, a face region).",
        ["image-engine people", "image-engine people --json"],
    ),
    "people name": (
        "Name (or rename) a person; their photos get the name written. A name that is already someone's merges them.",
        ['image-engine people name 3 "Anna"'],
    ),
    "people merge": ("The same person: the second's faces join the first.", ["image-engine people merge 3 7"]),
    "people split": (
        "These faces are someone else: they leave their person for a new one (or the one named).",
        ['image-engine people split 41 42 --name "Ben"'],
    ),
    "people remove-face": (
        "Not this person (or not a face): the face leaves its person and is never assigned again by the engine.",
        ["image-engine people remove-face 41"],
    ),
    "people show": ("The photos of a person, by name or id.", ["image-engine people show Anna"]),
    "people recluster": (
        "Group the unknown faces now (the engine does it every [people] recluster_minutes when idle).",
        ["image-engine people recluster"],
    ),
}


def describe(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Give every subcommand parser its description and example (kept where a command set its own)."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            key = f"{prefix}{name}"
            description, examples = HELP.get(key, (None, []))
            if not sub.description and description:
                sub.description = textwrap.fill(description, 78)  # the raw formatter keeps the example's lines
            if not sub.epilog and examples:
                sub.epilog = "example:\n" + "\n".join(f"  {line}" for line in examples)
            sub.formatter_class = argparse.RawDescriptionHelpFormatter
            describe(sub, f"{key} ")
