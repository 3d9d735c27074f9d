"""What `image-engine dupes` reads and changes: the group listing, "not duplicates" decisions, and applying the policy.

Each change runs in one transaction and regroups the files it touches with the same plan the dedup stage uses.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from daemon.dedup.grouping import Facts, Group, Link, decide, pair
from daemon.store import dedup, dedup_choices
from daemon.store.connection import transaction

# What later stages act on; a change in these makes a recorded decision "pending" until `dupes --resolve`.
POLICY_KEYS = ("keeper", "duplicate_of", "action", "move_to_duplicates", "choice")
ALL_KEYS = ("group", "kind", *POLICY_KEYS)


def file_ids_for(conn: sqlite3.Connection, paths: list[str]) -> dict[str, int]:
    """Known file ids of `paths`; a path the engine does not know raises ValueError naming it."""
    found = {}
    for path in paths:
        row = conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise ValueError(f"{path}: not a file the engine knows")
        found[path] = row[0]
    return found


def _groups(
    conn: sqlite3.Connection, group_ids: list[int] | None = None
) -> list[tuple[Group, dict[int, Facts], list[Link]]]:
    """Stored groups with their members' facts and the links among them."""
    if group_ids is None:
        rows = conn.execute("SELECT id, keeper, keeper_reason FROM dedup_groups ORDER BY id").fetchall()
    else:
        rows = dedup._in(conn, "SELECT id, keeper, keeper_reason FROM dedup_groups WHERE id IN ({ids})", group_ids)
    members: dict[int, list[int]] = {}
    for file_id, group_id in dedup.members_of(conn, [row["id"] for row in rows]).items():
        members.setdefault(group_id, []).append(file_id)
    every = [file_id for ids in members.values() for file_id in ids]
    known = dedup.facts(conn, every)
    links = dedup.links_among(conn, every)
    out = []
    for row in rows:
        ids = sorted(members.get(row["id"], []))
        group = Group(row["id"], ids, row["keeper"], row["keeper_reason"])
        mine = [link for link in links if link.a in ids and link.b in ids]
        out.append((group, {i: known[i] for i in ids}, mine))
    return out


def recorded(conn: sqlite3.Connection, file_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = dedup._in(conn, "SELECT file_id, data FROM results WHERE stage = 'dedup' AND file_id IN ({ids})", file_ids)
    return {row["file_id"]: json.loads(row["data"]) for row in rows}


def list_groups(conn: sqlite3.Connection, action: str) -> list[dict[str, Any]]:
    """Every group: members with paths, sizes and dimensions, which one is kept and why, and pending decisions."""
    groups = _groups(conn)
    decisions = recorded(conn, [m for group, _, _ in groups for m in group.members])
    choices = dedup_choices.of_files(conn, [m for group, _, _ in groups for m in group.members])
    changes: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute("SELECT * FROM dedup_keeper_changes ORDER BY id"):
        changes.setdefault(row["group_id"], []).append(dict(row))
    listing = []
    for group, known, links in groups:
        keeper = known[group.keeper]
        members = []
        for file_id in group.members:
            fact = known[file_id]
            current = decide(fact, group, known, links, action, choice=choices.get(file_id))
            before = decisions.get(file_id)
            members.append(
                {
                    "file": file_id,
                    "path": fact.path,
                    "size": fact.size,
                    "width": fact.width,
                    "height": fact.height,
                    "taken": fact.taken,
                    "present": fact.present,
                    "keeper": file_id == group.keeper,
                    "kind": current["kind"],
                    "reason": current["reason"],
                    "pending": before is None or differs(before, current),
                    "choice": choices.get(file_id),
                }
            )
        history = [
            {
                "old_keeper": known[c["old_keeper"]].path if c["old_keeper"] in known else c["old_keeper"],
                "new_keeper": known[c["new_keeper"]].path if c["new_keeper"] in known else c["new_keeper"],
                "reason": c["reason"],
                "at": c["at"],
            }
            for c in changes.get(group.id, [])
        ]
        exact = len({known[m].sha256 for m in group.members}) == 1
        listing.append(
            {
                "group": group.id,
                "kind": "exact" if exact else "near",
                "keeper": keeper.path,
                "why": group.keeper_reason,
                "members": members,
                "keeper_changes": history,
            }
        )
    return listing


def differs(before: dict[str, Any], now: dict[str, Any], keys: tuple[str, ...] = POLICY_KEYS) -> bool:
    return any(before.get(key) != now.get(key) for key in keys)


def mark_distinct(conn: sqlite3.Connection, group_ids: list[int], file_ids: list[int]) -> dict[str, Any]:
    """Record that files are not duplicates of each other and regroup what they touched; sticks for good.

    A group number: all its members are distinct from each other. One file: it is distinct from the rest of its
    group. Several files: they are distinct from each other (other members keep their links).
    """
    with transaction(conn):
        pairs: set[tuple[int, int]] = set()
        for group_id in group_ids:
            members = [m for m, g in dedup.members_of(conn, [group_id]).items() if g == group_id]
            if not members:
                raise ValueError(f"there is no duplicate group {group_id} (see `image-engine dupes`)")
            pairs.update(dedup.pairs_of(members))
        if len(file_ids) == 1:
            (only,) = file_ids
            group_id = dedup.groups_of(conn, [only]).get(only)
            if group_id is None:
                raise ValueError("that file is in no duplicate group; name two or more files to keep them apart")
            pairs.update(pair(only, other) for other in dedup.members_of(conn, [group_id]) if other != only)
        else:
            pairs.update(dedup.pairs_of(file_ids))
        now = time.time()
        conn.executemany(
            "INSERT OR IGNORE INTO dedup_distinct (a, b, decided_at) VALUES (?, ?, ?)", [(a, b, now) for a, b in pairs]
        )
        seeds = {file_id for p in pairs for file_id in p}
        rules = dedup.keeper_rules(conn)
        new_plan, known, _ = dedup.replan(conn, seeds, rules)
        dedup.write_plan(conn, new_plan, known, rules)
    return {"pairs": len(pairs), "groups": sorted({g for f, g in new_plan.membership.items() if f in seeds and g})}


def drop_missing(conn: sqlite3.Connection) -> int:
    """Regroup the groups that have members which no longer exist (deleted or moved away while unwatched): they
    leave, and if the keeper was one of them the best remaining copy is kept. Returns how many groups changed."""
    with transaction(conn):
        rows = conn.execute(
            "SELECT DISTINCT dedup_members.group_id FROM dedup_members JOIN files ON files.id = dedup_members.file_id"
            " WHERE files.present = 0"
        ).fetchall()
        if not rows:
            return 0
        seeds = set(dedup.members_of(conn, [row[0] for row in rows]))
        rules = dedup.keeper_rules(conn)
        new_plan, known, _ = dedup.replan(conn, seeds, rules)
        dedup.write_plan(conn, new_plan, known, rules)
    return len(rows)


def pending_decisions(conn: sqlite3.Connection, action: str) -> list[tuple[Facts, dict[str, Any], dict[str, Any]]]:
    """(file, current decision, recorded decision) for every file whose recorded dedup result is out of date
    (group number and kind included, though only POLICY_KEYS matter to later stages)."""
    out = []
    groups = _groups(conn)
    grouped: set[int] = set()
    decisions = recorded(conn, [m for group, _, _ in groups for m in group.members])
    choices = dedup_choices.of_files(conn, [m for group, _, _ in groups for m in group.members])
    for group, known, links in groups:
        for file_id in group.members:
            grouped.add(file_id)
            current = decide(known[file_id], group, known, links, action, choice=choices.get(file_id))
            before = decisions.get(file_id)
            if before is not None and differs(before, current, ALL_KEYS) and known[file_id].present:
                out.append((known[file_id], current, before))
    # Files recorded as duplicates that are grouped no more (a "not duplicates" decision): kept after all.
    rows = conn.execute(
        "SELECT file_id, data FROM results WHERE stage = 'dedup' AND json_extract(data, '$.group') IS NOT NULL"
    ).fetchall()
    loose = {row["file_id"]: json.loads(row["data"]) for row in rows if row["file_id"] not in grouped}
    for file_id, fact in dedup.facts(conn, loose).items():
        if fact.present:
            current = decide(fact, None, {}, [], action)
            out.append((fact, current, loose[file_id]))
    return out


def apply_decision(conn: sqlite3.Connection, file_id: int, decision: dict[str, Any], stage: str | None) -> str:
    """Store `decision` as the file's dedup result; with `stage`, a finished job runs again from that stage.

    Returns "requeued", "updated" (no stage given, or the job has not finished: its later stages will read the new
    decision) or "not judged yet" (no dedup result: the stage decides when it gets there).
    """
    with transaction(conn):
        row = conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = 'dedup'", (file_id,)).fetchone()
        if row is None:
            return "not judged yet"
        before = json.loads(row["data"])
        merged = {**before, **decision}
        conn.execute(
            "UPDATE results SET data = ?, recorded_at = ? WHERE file_id = ? AND stage = 'dedup'",
            (json.dumps(merged), time.time(), file_id),
        )
        if stage is None:
            return "updated"
        job = conn.execute(
            "SELECT id, state FROM jobs WHERE file_id = ? AND state != 'superseded' ORDER BY id DESC LIMIT 1",
            (file_id,),
        ).fetchone()
        if job is None or job["state"] != "done":
            return "updated"
        now = time.time()
        conn.execute(
            "UPDATE jobs SET state = 'queued', stage = ?, attempts = 0, claims = 0, touched = 0, not_before = 0, error = NULL,"
            " wait_reason = NULL, lease_owner = NULL, lease_until = NULL, finished_at = NULL, updated_at = ?"
            " WHERE id = ?",
            (stage, now, job["id"]),
        )
        return "requeued"
