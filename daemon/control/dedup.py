"""Control API routes for duplicates: list the groups, record "not duplicates", apply the policy to existing groups.

`GET /dupes`, `POST /dupes/distinct {"groups": [...], "paths": [...]}`, `POST /dupes/resolve`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.control.server import Handler
from daemon.store import Store, dedup_groups

# Which stage carries out a policy on a file that already went through the whole pipeline.
POLICY_STAGE = {"tag": "metadata", "move": "rename"}


def dedup_routes(
    store: Store, action: str, stages: set[str], wake: Callable[[], None]
) -> dict[tuple[str, str], Handler]:
    """`action`: [dedup] action; `stages`: the engine's stage names; `wake`: tell the workers there is work."""

    def listing(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        groups = dedup_groups.list_groups(store.conn, action)
        pending = sum(member["pending"] for group in groups for member in group["members"])
        return 200, {"action": action, "groups": groups, "pending": pending}

    def distinct(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        groups = [int(group) for group in body.get("groups", [])]
        paths = [str(path) for path in body.get("paths", [])]
        if not groups and not paths:
            raise ValueError("name at least one group number or file path")
        file_ids = list(dedup_groups.file_ids_for(store.conn, paths).values())
        return 200, dedup_groups.mark_distinct(store.conn, groups, file_ids)

    def resolve(query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        return 200, apply_policy(store, action, stages, wake)

    return {
        ("GET", "/dupes"): listing,
        ("POST", "/dupes/distinct"): distinct,
        ("POST", "/dupes/resolve"): resolve,
    }


def apply_policy(store: Store, action: str, stages: set[str], wake: Callable[[], None]) -> dict[str, Any]:
    """Bring every file's recorded dedup decision up to date with the groups, and carry out the policy on files
    that already finished: 'tag' runs their metadata stage again, 'move' their rename stage (which files them under
    the Duplicates folder through its undo journal). Files still in flight just read the new decision."""
    conn = store.conn
    outcome: dict[str, Any] = {"action": action, "updated": 0, "requeued": {}, "not_applied": []}
    outcome["regrouped_for_missing_files"] = dedup_groups.drop_missing(conn)
    for fact, current, before in dedup_groups.pending_decisions(conn, action):
        stage = None
        wanted = POLICY_STAGE.get(action)
        if wanted and not current["keeper"] and dedup_groups.differs(before, current):
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
        if action == "move" and current["keeper"] and before.get("move_to_duplicates"):
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
