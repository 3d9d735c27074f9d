"""Duplicate groups in SQLite: the facts pairs are judged by, the group plan for a change, and the dedup recorder.

The dedup stage plans from a read snapshot; the recorder plans again inside the completion transaction and refuses a
result the groups no longer agree with (a `dupes --not-duplicates` came in between): the job is then judged again.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.dedup.grouping import (
    CAMERA_TIME_SOURCES,
    KEEPER_RULES,
    MIN_SIDE,
    Facts,
    Group,
    Link,
    Plan,
    choose_keeper,
    keeper_key,
    pair,
    plan,
)
from daemon.errors import StoreError
from daemon.store.records import unsigned64

if TYPE_CHECKING:
    from daemon.store.queue import Job

log = logging.getLogger("image_engine.dedup")
RULES_KEY = "dedup.keeper"
_CHUNK = 500


class StaleDecision(StoreError):
    """The duplicate groups changed while this file was being judged; its job is released and judged again."""


# -- reads ------------------------------------------------------------------------------------------------------


def load_hashes(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray]:
    """(file ids, unsigned pHashes) of every present file whose pHash is worth comparing, for the index."""
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.execute(
        "SELECT media.file_id, media.phash FROM media JOIN files ON files.id = media.file_id"
        " WHERE files.present = 1 AND media.phash IS NOT NULL AND media.dhash != 0"
        " AND media.width >= ? AND media.height >= ? ORDER BY media.file_id",
        (MIN_SIDE, MIN_SIDE),
    )
    flat = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.int64)
    rows = flat.reshape(-1, 2)
    return rows[:, 0].copy(), rows[:, 1].view(np.uint64).copy()


def facts(conn: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, Facts]:
    found: dict[int, Facts] = {}
    ids = sorted(set(file_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            "SELECT files.id, files.path, files.size, files.sha256, files.present, media.width, media.height,"
            " media.taken, media.taken_source, media.phash, media.dhash, media.make, media.model, media.gps_lat,"
            " media.orientation, json_extract(results.data, '$.keeper') AS kept,"
            " (SELECT score FROM photo_scores WHERE photo_scores.file_id = files.id"
            " AND photo_scores.analyzer = 'quality') AS quality FROM files"
            " LEFT JOIN media ON media.file_id = files.id"
            " LEFT JOIN results ON results.file_id = files.id AND results.stage = 'dedup'"
            f" WHERE files.id IN ({marks})",
            chunk,
        ):
            camera_time = row["taken_source"] in CAMERA_TIME_SOURCES
            found[row["id"]] = Facts(
                id=row["id"],
                path=row["path"],
                size=row["size"],
                width=row["width"],
                height=row["height"],
                taken=row["taken"],
                taken_source=row["taken_source"],
                sha256=row["sha256"],
                phash=unsigned64(row["phash"]),
                dhash=unsigned64(row["dhash"]),
                metadata=sum(bool(x) for x in (camera_time, row["make"], row["model"], row["gps_lat"] is not None)),
                present=bool(row["present"]),
                orientation=row["orientation"],
                kept=bool(row["kept"]),
                quality=row["quality"],
            )
    return found


def with_content(conn: sqlite3.Connection, file_ids: Iterable[int], sha256: str) -> set[int]:
    """Those of `file_ids` that are present and hold exactly this content."""
    rows = _in(conn, "SELECT id, sha256, present FROM files WHERE id IN ({ids})", file_ids)
    return {row[0] for row in rows if row[1] == sha256 and row[2]}


def exact_twins(conn: sqlite3.Connection, sha256: str, file_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM files WHERE sha256 = ? AND id != ? AND present = 1 ORDER BY id", (sha256, file_id)
    )
    return [row[0] for row in rows]


def _in(conn: sqlite3.Connection, sql: str, ids: Iterable[int], repeat: int = 1) -> list[sqlite3.Row]:
    """Run `sql` (with `{ids}` placeholders, `repeat` times) over `ids` in chunks."""
    ids = sorted(set(ids))
    rows: list[sqlite3.Row] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(ids=marks), chunk * repeat))
    return rows


def groups_of(conn: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, int]:
    """file id -> group id, for the given files that are grouped."""
    return {
        row[0]: row[1]
        for row in _in(conn, "SELECT file_id, group_id FROM dedup_members WHERE file_id IN ({ids})", file_ids)
    }


def members_of(conn: sqlite3.Connection, group_ids: Iterable[int]) -> dict[int, int]:
    """file id -> group id, for every member of the given groups."""
    return {
        row[0]: row[1]
        for row in _in(conn, "SELECT file_id, group_id FROM dedup_members WHERE group_id IN ({ids})", group_ids)
    }


def links_among(conn: sqlite3.Connection, file_ids: Iterable[int]) -> list[Link]:
    ids = set(file_ids)
    rows = _in(conn, "SELECT * FROM dedup_links WHERE a IN ({ids}) OR b IN ({ids})", ids, repeat=2)
    unique = {(row["a"], row["b"]): row for row in rows}
    return [
        Link(
            row["a"],
            row["b"],
            row["kind"],
            row["phash"],
            row["dhash"],
            row["similarity"],
            row["rotation"],
            row["contained"],
        )
        for (a, b), row in unique.items()
        if a in ids and b in ids
    ]


def linked_to(conn: sqlite3.Connection, file_ids: Iterable[int]) -> set[int]:
    rows = _in(conn, "SELECT a, b FROM dedup_links WHERE a IN ({ids}) OR b IN ({ids})", file_ids, repeat=2)
    return {value for row in rows for value in (row[0], row[1])}


def distinct_among(conn: sqlite3.Connection, file_ids: Iterable[int]) -> set[tuple[int, int]]:
    ids = set(file_ids)
    rows = _in(conn, "SELECT a, b FROM dedup_distinct WHERE a IN ({ids}) OR b IN ({ids})", ids, repeat=2)
    return {(row[0], row[1]) for row in rows if row[0] in ids and row[1] in ids}


def keeper_rules(conn: sqlite3.Connection) -> list[str]:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (RULES_KEY,)).fetchone()
    return json.loads(row[0]) if row else list(KEEPER_RULES)


def set_keeper_rules(conn: sqlite3.Connection, rules: list[str]) -> None:
    """The recorder and `dupes` rank copies by the rules the stage was configured with."""
    from daemon.store import settings

    row = conn.execute("SELECT value FROM settings WHERE key = ?", (RULES_KEY,)).fetchone()
    if row is None or json.loads(row[0]) != rules:
        settings.put(conn, RULES_KEY, json.dumps(rules))


# -- planning -------------------------------------------------------------------------------------------------


def affected_by(conn: sqlite3.Connection, seeds: set[int]) -> set[int]:
    """The files whose grouping may change with `seeds`: what links to them (a few hops), and always every member
    of every group touched (a plan rewrites whole groups)."""
    affected = set(seeds)
    for _ in range(3):
        grown = affected | linked_to(conn, affected)
        if grown == affected:
            break
        affected = grown
    return affected | set(members_of(conn, groups_of(conn, affected).values()))


def plan_for(
    conn: sqlite3.Connection, file_id: int, new_links: list[Link], rules: list[str]
) -> tuple[Plan, dict[int, Facts], list[Link]]:
    """Groups after `file_id` is judged (again): its stored links are replaced by `new_links`."""
    joined = join_plan(conn, file_id, new_links, rules)
    if joined is not None:
        return joined
    affected = affected_by(conn, {file_id} | {link.other(file_id) for link in new_links})
    links = [link for link in links_among(conn, affected) if file_id not in (link.a, link.b)] + new_links
    known = facts(conn, affected)
    return plan(known, links, distinct_among(conn, affected), rules), known, links


def join_plan(
    conn: sqlite3.Connection, file_id: int, new_links: list[Link], rules: list[str]
) -> tuple[Plan, dict[int, Facts], list[Link]] | None:
    """The plan when a new identical copy joins a group and changes nothing else in it, read from a few rows;
    None when that is not certain (then the whole group is planned again).

    A copy of a content already in the group, judged for the first time, linked only within the group, ranking like
    that copy by every keeper rule and seen after every member, cannot become the keeper nor change its reason:
    planning the whole group for it made each of 200 identical copies cost 200 files' reads and ranking.
    """
    twins = sorted(link.other(file_id) for link in new_links if link.kind == "exact")
    linked = {link.other(file_id) for link in new_links}
    if not twins:
        return None
    grouped = groups_of(conn, [file_id, *linked])
    if file_id in grouped or len(grouped) != len(linked) or len(set(grouped.values())) != 1:
        return None  # new to the engine, and every link within one group: it adds no path between groups
    if (
        linked_to(conn, [file_id])
        or conn.execute("SELECT 1 FROM dedup_distinct WHERE a = ? OR b = ? LIMIT 1", (file_id, file_id)).fetchone()
    ):
        return None
    group_id = grouped[twins[0]]
    row = conn.execute("SELECT keeper, keeper_reason FROM dedup_groups WHERE id = ?", (group_id,)).fetchone()
    members = sorted(members_of(conn, [group_id]))
    if row is None or not members or members[-1] > file_id or members[0] != group_id:
        return None
    first_twin = conn.execute(
        "SELECT MIN(files.id) FROM dedup_members JOIN files ON files.id = dedup_members.file_id"
        " WHERE dedup_members.group_id = ? AND files.sha256 = (SELECT sha256 FROM files WHERE id = ?)",
        (group_id, file_id),
    ).fetchone()[0]
    known = facts(conn, {file_id, *linked, row["keeper"], *([first_twin] if first_twin else [])})
    me, twin, keeper = known[file_id], known[twins[0]], known.get(row["keeper"])
    if keeper is None or not keeper.present or not me.present or me.kept or not me.sha256:
        return None
    if twin.sha256 != me.sha256 or twin.camera_time != me.camera_time or not twin.present:
        return None
    if keeper_key(me, rules)[:-1] != keeper_key(twin, rules)[:-1]:
        return None  # it would rank otherwise than the copy it repeats: plan the group
    group = Group(group_id, [*members, file_id], row["keeper"], row["keeper_reason"])
    plan = Plan(groups={group_id: group}, membership=dict.fromkeys(group.members, group_id), joined=file_id)
    return plan, known, list(new_links)


def replan(conn: sqlite3.Connection, seeds: set[int], rules: list[str]) -> tuple[Plan, dict[int, Facts], list[Link]]:
    """Groups of `seeds` and everything connected to them, from the stored links (after a user decision)."""
    affected = affected_by(conn, seeds)
    links = links_among(conn, affected)
    known = facts(conn, affected)
    return plan(known, links, distinct_among(conn, affected), rules), known, links


# -- writes ---------------------------------------------------------------------------------------------------


def record_dedup(conn: sqlite3.Connection, job: Job, data: dict[str, Any]) -> None:
    new_links = [Link(**match["link"]) for match in data.get("matches", [])]
    rules = keeper_rules(conn)
    new_plan, known, _ = plan_for(conn, job.file_id, new_links, rules)
    group = new_plan.group_of(job.file_id)
    expected = (
        group.id if group else None,
        group is None or group.keeper == job.file_id,
        known[group.keeper].path if group and group.keeper != job.file_id else None,
    )
    if expected != (data.get("group"), data.get("keeper"), data.get("duplicate_of")):
        raise StaleDecision(f"duplicate groups changed while {job.path} was judged; judging it again")
    conn.execute("DELETE FROM dedup_links WHERE a = ? OR b = ?", (job.file_id, job.file_id))
    now = time.time()
    conn.executemany(
        "INSERT OR REPLACE INTO dedup_links (a, b, kind, phash, dhash, similarity, rotation, contained, found_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(x.a, x.b, x.kind, x.phash, x.dhash, x.similarity, x.rotation, x.contained, now) for x in new_links],
    )
    write_plan(conn, new_plan, known, rules, newcomer=job.file_id)


def write_plan(
    conn: sqlite3.Connection, new_plan: Plan, known: dict[int, Facts], rules: list[str], newcomer: int | None = None
) -> None:
    """Replace the groups of the planned files by the plan; keeper changes are kept as history.

    With a `newcomer` (the file just judged), the keeper before is the one its group would have without it: a
    bigger copy arriving beside a photo that was alone is a change of keeper too.
    """
    if new_plan.joined is not None:
        group_id = new_plan.membership[new_plan.joined]
        conn.execute("INSERT INTO dedup_members (file_id, group_id) VALUES (?, ?)", (new_plan.joined, group_id))
        return
    now = time.time()
    affected = list(new_plan.membership)
    before = groups_of(conn, affected)
    stored = {
        row["id"]: (row["keeper"], row["keeper_reason"])
        for row in _in(
            conn, "SELECT id, keeper, keeper_reason FROM dedup_groups WHERE id IN ({ids})", set(before.values())
        )
    }
    old_keepers = {group_id: keeper for group_id, (keeper, _) in stored.items()}
    # Only what changed is written: a copy joining a group of 200 rewrote all 200 memberships before.
    moved = [file_id for file_id in affected if before.get(file_id) != new_plan.membership[file_id]]
    _in(conn, "DELETE FROM dedup_members WHERE file_id IN ({ids})", [f for f in moved if f in before])
    stale = set(before.values()) - set(new_plan.groups)
    _in(conn, "DELETE FROM dedup_groups WHERE id IN ({ids})", stale)
    joining: dict[int, list[int]] = {}
    for file_id in moved:
        group_id = new_plan.membership[file_id]
        if group_id is not None:
            joining.setdefault(group_id, []).append(file_id)
    for group in new_plan.groups.values():
        if newcomer in group.members:
            rest = [known[m] for m in group.members if m != newcomer]
            kept_before = [choose_keeper(rest, rules)[0] if len(rest) > 1 else rest[0].id]
        else:
            previous = [old_keepers[before[m]] for m in group.members if m in before and before[m] in old_keepers]
            kept_before = [keeper for keeper in previous if keeper in group.members]
        if kept_before and group.keeper not in kept_before:
            old = max(set(kept_before), key=kept_before.count)
            conn.execute(
                "INSERT INTO dedup_keeper_changes (group_id, old_keeper, new_keeper, reason, at) VALUES (?, ?, ?, ?, ?)",
                (group.id, old, group.keeper, group.keeper_reason, now),
            )
            log.info(
                "keeper changed",
                extra={
                    "event": "dedup_keeper_changed",
                    "path": known[group.keeper].path,
                    "detail": f"group {group.id}: now keeps {known[group.keeper].path} instead of "
                    f"{known[old].path}: {group.keeper_reason}",
                },
            )
        if stored.get(group.id) != (group.keeper, group.keeper_reason):
            conn.execute(
                "INSERT INTO dedup_groups (id, keeper, keeper_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET keeper = excluded.keeper, keeper_reason = excluded.keeper_reason,"
                " updated_at = excluded.updated_at",
                (group.id, group.keeper, group.keeper_reason, now, now),
            )
        conn.executemany(
            "INSERT INTO dedup_members (file_id, group_id) VALUES (?, ?)",
            [(m, group.id) for m in joining.get(group.id, [])],
        )


def pairs_of(file_ids: list[int]) -> list[tuple[int, int]]:
    return [pair(x, y) for x, y in itertools.combinations(sorted(set(file_ids)), 2)]
