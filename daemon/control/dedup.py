"""Control API routes for duplicates: list the groups, record "not duplicates", apply the policy to existing groups,
and the user's per-photo choices (keep / trash) from the review app or `image-engine dupes --keep/--trash`.

`GET /dupes`, `POST /dupes/distinct {"groups": [...], "paths": [...]}`, `POST /dupes/resolve`,
`POST /dupes/choose {"keep": [paths], "trash": [paths]}` or `{"suggested": true}` (every undecided group: keep the
suggested keeper, trash the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.control.server import Handler
from daemon.store import Store, dedup_choices, dedup_groups

# Which stage carries out a policy on a file that already went through the whole pipeline.
POLICY_STAGE = {"tag": "metadata", "move": "rename"}


def dedup_routes(
    store: Store, action: str, stages: set[str], wake: Callable[[], None], trash_folder: str = "Duplicates"
) -> dict[tuple[str, str], Handler]:
    """`action`: [dedup] action; `stages`: the engine's stage names; `wake`: tell the workers there is work;
    `trash_folder`: where trashed copies are filed (the [dedup] folder under the library)."""

    def listing(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        groups = dedup_groups.list_groups(store.conn, action)
        pending = sum(member["pending"] for group in groups for member in group["members"])
        would_move = sum(len(suggested_trash(group)) for group in groups)
        return 200, {
            "action": action,
            "groups": groups,
            "pending": pending,
            "trash_folder": trash_folder,
            "suggested_moves": would_move if "rename" in stages else 0,
        }

    def distinct(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        groups = [int(group) for group in body.get("groups", [])]
        paths = [str(path) for path in body.get("paths", [])]
        if not groups and not paths:
            raise ValueError("name at least one group number or file path")
        file_ids = list(dedup_groups.file_ids_for(store.conn, paths).values())
        return 200, dedup_groups.mark_distinct(store.conn, groups, file_ids)

    def resolve(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, apply_policy(store, action, stages, wake)

    def choose(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        choices: dict[int, str] = {}
        if body.get("suggested"):
            for group in dedup_groups.list_groups(store.conn, action):
                trashed = suggested_trash(group)
                if trashed:
                    choices.update(dict.fromkeys(trashed, "trash"))
                    choices[next(m["file"] for m in group["members"] if m["keeper"])] = "keep"
        for choice in dedup_choices.CHOICES:
            paths = [str(path) for path in body.get(choice, [])]
            choices.update(dict.fromkeys(dedup_groups.file_ids_for(store.conn, paths).values(), choice))
        if not choices:
            if body.get("suggested"):
                return 200, {"kept": 0, "trashed": 0, **apply_policy(store, action, stages, wake, only=set())}
            raise ValueError("name the files to keep or trash")
        if "trash" in choices.values() and "rename" not in stages:
            raise ValueError("trashing a copy moves it into the duplicates folder: turn on [rename] to allow it")
        dedup_choices.record(store.conn, choices)
        outcome = apply_policy(store, action, stages, wake, only=set(choices))
        kinds = list(choices.values())
        return 200, {"kept": kinds.count("keep"), "trashed": kinds.count("trash"), **outcome}

    return {
        ("GET", "/dupes"): listing,
        ("POST", "/dupes/distinct"): distinct,
        ("POST", "/dupes/resolve"): resolve,
        ("POST", "/dupes/choose"): choose,
    }


def suggested_trash(group: dict[str, Any]) -> list[int]:
    """The copies "resolve with the suggested keeper" moves: a group nobody decided on yet, its present copies but
    the keeper."""
    members = group["members"]
    if any(member["choice"] for member in members):
        return []
    return [member["file"] for member in members if not member["keeper"] and member["present"]]


def apply_policy(
    store: Store, action: str, stages: set[str], wake: Callable[[], None], only: set[int] | None = None
) -> dict[str, Any]:
    """Bring every file's recorded dedup decision up to date with the groups (with `only`, those files'), and carry
    out the policy on files that already finished: 'tag' runs their metadata stage again, 'move' (or the user's
    'trash') their rename stage, which files them under the Duplicates folder through its undo journal. Files still
    in flight just read the new decision."""
    conn = store.conn
    outcome: dict[str, Any] = {"action": action, "updated": 0, "requeued": {}, "not_applied": []}
    outcome["regrouped_for_missing_files"] = dedup_groups.drop_missing(conn)
    for fact, current, before in dedup_groups.pending_decisions(conn, action):
        if only is not None and fact.id not in only:
            continue
        stage = None
        trashing = current.get("choice") == "trash"
        wanted = "rename" if trashing else None if current.get("choice") == "keep" else POLICY_STAGE.get(action)
        if wanted and (trashing or not current["keeper"]) and dedup_groups.differs(before, current):
            if wanted in stages:
                stage = wanted
            else:
                outcome["not_applied"].append(
                    {"path": fact.path, "why": f"needs the {wanted} stage, which this engine does not have"}
                )
        if action == "tag" and current["keeper"] and before.get("keeper") is False and before.get("action") == "tag":
            outcome["not_applied"].append(
                {"path": fact.path, "why": "now kept: the duplicate keyword written before stays (never removed)"}
            )
        if not current.get("move_to_duplicates") and before.get("move_to_duplicates"):
            outcome["not_applied"].append(
                {"path": fact.path, "why": "now kept, but already filed as a duplicate: move it back with `undo`"}
            )
        result = dedup_groups.apply_decision(conn, fact.id, current, stage)
        if result == "requeued":
            outcome["requeued"][stage] = outcome["requeued"].get(stage, 0) + 1
        elif result == "updated":
            outcome["updated"] += 1
    if outcome["requeued"]:
        wake()
    return outcome
