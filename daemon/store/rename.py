"""The rename journal's SQL: intents written before a move, confirmed or rolled back after, dry-run plans,
and the look-ups the rename stage and undo need. The `rename` recorder confirms a move in the completion transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.store.connection import transaction

if TYPE_CHECKING:
    from daemon.store.queue import Job

ACTIVE = ("queued", "running", "waiting")


@dataclass
class Move:
    id: int
    kind: str
    state: str
    job_id: int | None
    file_id: int | None
    src: str
    dest: str
    companions: list[tuple[str, str]]
    undo_of: int | None
    template: str | None
    reason: str | None
    created_at: float
    finished_at: float | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "companions": [list(pair) for pair in self.companions]}


def _move(row: sqlite3.Row) -> Move:
    data = dict(row)
    data["companions"] = [tuple(pair) for pair in json.loads(data["companions"] or "[]")]
    return Move(**data)


def path_taken(conn: sqlite3.Connection, path: str) -> bool:
    """The store knows a file at `path`, or a pending move or plan targets it."""
    if conn.execute("SELECT 1 FROM files WHERE path = ?", (path,)).fetchone():
        return True
    return (
        conn.execute(
            "SELECT 1 FROM rename_journal WHERE dest = ? AND state IN ('open', 'planned') LIMIT 1", (path,)
        ).fetchone()
        is not None
    )


def known_present(conn: sqlite3.Connection, path: str) -> bool:
    return conn.execute("SELECT 1 FROM files WHERE path = ? AND present = 1", (path,)).fetchone() is not None


def open_intent(
    conn: sqlite3.Connection,
    *,
    kind: str,
    job_id: int | None,
    file_id: int | None,
    src: str,
    dest: str,
    companions: list[tuple[str, str]],
    partners: list[str] | None = None,
    undo_of: int | None = None,
    template: str | None = None,
    reason: str | None = None,
    now: float | None = None,
) -> int | None:
    """Write a move's intent in its own transaction, before the move; None when a target is taken in the store.

    The known files' paths point at their targets from now on, so the watcher's echo of the move finds them
    (unchanged, not new); a rollback puts them back.
    """
    now = time.time() if now is None else now
    with transaction(conn):
        targets = [dest, *(d for _, d in companions)]
        if kind == "undo":  # the record of a file seen at the old place and gone since must not block it
            for target in targets:
                conn.execute("DELETE FROM files WHERE path = ? AND present = 0", (target,))
        for target in targets:
            if (
                conn.execute("SELECT 1 FROM files WHERE path = ?", (target,)).fetchone()
                or conn.execute("SELECT 1 FROM rename_journal WHERE dest = ? AND state = 'open'", (target,)).fetchone()
            ):
                return None
        move_id = conn.execute(
            "INSERT INTO rename_journal (kind, state, job_id, file_id, src, dest, companions, undo_of, template,"
            " reason, created_at) VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (kind, job_id, file_id, src, dest, json.dumps(companions), undo_of, template, reason, now),
        ).fetchone()[0]
        for path in partners or []:
            conn.execute("INSERT INTO rename_partners (move_id, path) VALUES (?, ?)", (move_id, path))
        if file_id is not None:
            conn.execute("UPDATE files SET path = ? WHERE id = ?", (dest, file_id))
        for companion_src, companion_dest in companions:
            conn.execute("UPDATE files SET path = ? WHERE path = ?", (companion_dest, companion_src))
        return move_id


def rollback_intent(conn: sqlite3.Connection, move_id: int, detail: str, now: float | None = None) -> None:
    """The move did not happen (or was put back): known files point at their old paths again."""
    now = time.time() if now is None else now
    with transaction(conn):
        move = get(conn, move_id)
        if move is None or move.state != "open":
            return
        conn.execute(
            "UPDATE rename_journal SET state = 'rolled_back', finished_at = ?, detail = ? WHERE id = ?",
            (now, detail, move_id),
        )
        for src, dest in [(move.src, move.dest), *move.companions]:
            if not conn.execute("SELECT 1 FROM files WHERE path = ?", (src,)).fetchone():
                conn.execute("UPDATE files SET path = ? WHERE path = ?", (src, dest))


def confirm_intent(
    conn: sqlite3.Connection,
    move_id: int,
    stat: tuple[int, int, int] | None,
    root: str | None,
    detail: str | None = None,
    now: float | None = None,
) -> None:
    with transaction(conn):
        _confirm(conn, move_id, stat, root, detail, now)


def _confirm(
    conn: sqlite3.Connection,
    move_id: int,
    stat: tuple[int, int, int] | list[int] | None,
    root: str | None,
    detail: str | None = None,
    now: float | None = None,
) -> None:
    """Inside a transaction: the move happened; the file's record follows it (path, stat, root)."""
    now = time.time() if now is None else now
    move = get(conn, move_id)
    if move is None:
        return
    conn.execute(
        "UPDATE rename_journal SET state = 'done', finished_at = ?, detail = COALESCE(?, detail)"
        " WHERE id = ? AND state = 'open'",
        (now, detail, move_id),
    )
    if move.kind == "undo" and move.undo_of is not None:
        conn.execute("UPDATE rename_journal SET state = 'undone' WHERE id = ?", (move.undo_of,))
    if move.file_id is not None:
        conn.execute(
            "UPDATE files SET path = ?, present = 1, last_seen = ? WHERE id = ?", (move.dest, now, move.file_id)
        )
        if stat is not None:
            size, mtime_ns, inode = stat
            conn.execute(
                "UPDATE files SET size = ?, mtime_ns = ?, inode = ? WHERE id = ?", (size, mtime_ns, inode, move.file_id)
            )
        if root is not None:
            conn.execute("UPDATE files SET root = ? WHERE id = ?", (root, move.file_id))


def record_rename(conn: sqlite3.Connection, job: Job, data: dict[str, Any]) -> None:
    """Completion transaction of the rename stage: confirm the move, or keep the dry-run plan."""
    if data.get("moved") and data.get("journal"):
        _confirm(conn, int(data["journal"]), data.get("stat"), data.get("root"))
        job.path = data["to"]
    elif data.get("planned"):
        now = time.time()
        conn.execute(
            "UPDATE rename_journal SET state = 'discarded', finished_at = ? WHERE file_id = ? AND state = 'planned'",
            (now, job.file_id),
        )
        conn.execute(
            "INSERT INTO rename_journal (kind, state, job_id, file_id, src, dest, companions, template, reason,"
            " created_at) VALUES ('file', 'planned', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.file_id,
                data["from"],
                data["to"],
                json.dumps(data.get("companions") or []),
                data.get("template"),
                data.get("reason"),
                now,
            ),
        )


def get(conn: sqlite3.Connection, move_id: int) -> Move | None:
    row = conn.execute("SELECT * FROM rename_journal WHERE id = ?", (move_id,)).fetchone()
    return _move(row) if row else None


def open_intents(conn: sqlite3.Connection, job_id: int | None = None) -> list[Move]:
    if job_id is None:
        rows = conn.execute("SELECT * FROM rename_journal WHERE state = 'open' ORDER BY id").fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM rename_journal WHERE state = 'open' AND job_id = ? AND kind = 'file' ORDER BY id", (job_id,)
        ).fetchall()
    return [_move(row) for row in rows]


def done_move_for_job(conn: sqlite3.Connection, job_id: int) -> Move | None:
    row = conn.execute(
        "SELECT * FROM rename_journal WHERE job_id = ? AND kind = 'file' AND state = 'done' ORDER BY id DESC LIMIT 1",
        (job_id,),
    ).fetchone()
    return _move(row) if row else None


def job_position(conn: sqlite3.Connection, path: str, earlier: list[str]) -> str | None:
    """Where the job of the file at `path` stands, seen from the rename stage: 'earlier' (still before rename),
    'rename' (at rename now), 'failed-early' (failed before rename), 'past' (rename ran or is behind it),
    or None (not known to the store)."""
    row = conn.execute(
        "SELECT jobs.stage, jobs.state FROM files LEFT JOIN jobs ON jobs.file_id = files.id"
        " AND jobs.state != 'superseded' WHERE files.path = ? ORDER BY jobs.id DESC LIMIT 1",
        (path,),
    ).fetchone()
    if row is None:
        return None
    stage, state = row["stage"], row["state"]
    if state is None:
        return "failed-early"
    if stage in earlier:
        return "earlier" if state in ACTIVE else "failed-early" if state == "failed" else "past"
    if stage == "rename" and state in ACTIVE:
        return "rename"
    return "past"


def partner_decision(conn: sqlite3.Connection, path: str) -> str | None:
    """Where the shot `path` belongs to was filed (its partner's new path), if a move left it to follow.

    An open intent counts: its move has happened and waits to be confirmed with the rest of the worker's batch
    (a failed move rolls its intent back at once), so a partner in the same batch follows it."""
    row = conn.execute(
        "SELECT rename_journal.dest FROM rename_partners JOIN rename_journal ON rename_journal.id ="
        " rename_partners.move_id WHERE rename_partners.path = ? AND rename_journal.state IN ('open', 'done')"
        " ORDER BY rename_journal.id DESC LIMIT 1",
        (path,),
    ).fetchone()
    return row[0] if row else None


def planned(conn: sqlite3.Connection) -> list[Move]:
    rows = conn.execute("SELECT * FROM rename_journal WHERE state = 'planned' ORDER BY id").fetchall()
    return [_move(row) for row in rows]


def stale_plans(conn: sqlite3.Connection, template: str, dry_run: bool) -> list[Move]:
    """Plans made under another template, or any plan once dry_run is off: their files must be filed again."""
    return [move for move in planned(conn) if not dry_run or move.template != template]


def requeue_for_rename(conn: sqlite3.Connection, moves: list[Move], now: float | None = None) -> int:
    """Discard these plans and queue their finished jobs at the rename stage again."""
    now = time.time() if now is None else now
    count = 0
    with transaction(conn):
        for move in moves:
            conn.execute("UPDATE rename_journal SET state = 'discarded', finished_at = ? WHERE id = ?", (now, move.id))
            count += conn.execute(
                "UPDATE jobs SET stage = 'rename', state = 'queued', attempts = 0, claims = 0, not_before = 0,"
                " error = NULL, finished_at = NULL, updated_at = ? WHERE id = ? AND state = 'done'",
                (now, move.job_id),
            ).rowcount
    return count


def moves_to_undo(
    conn: sqlite3.Connection, job_id: int | None = None, since: float | None = None, everything: bool = False
) -> list[Move]:
    """Confirmed filing moves not undone yet, newest first (so later moves are unwound before earlier ones)."""
    sql = "SELECT * FROM rename_journal WHERE kind = 'file' AND state = 'done'"
    params: list[Any] = []
    if job_id is not None:
        sql += " AND job_id = ?"
        params.append(job_id)
    elif since is not None:
        sql += " AND created_at >= ?"
        params.append(since)
    elif not everything:
        return []
    return [_move(row) for row in conn.execute(sql + " ORDER BY id DESC", params)]


def file_state(conn: sqlite3.Connection, file_id: int) -> tuple[str | None, str | None]:
    """The file's current path and the state of its newest job ('queued', 'running', ... or None)."""
    row = conn.execute(
        "SELECT files.path, (SELECT state FROM jobs WHERE file_id = files.id AND state != 'superseded'"
        " ORDER BY id DESC LIMIT 1) AS state FROM files WHERE files.id = ?",
        (file_id,),
    ).fetchone()
    return (row["path"], row["state"]) if row else (None, None)


def journal(conn: sqlite3.Connection, limit: int = 100) -> list[Move]:
    rows = conn.execute("SELECT * FROM rename_journal ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [_move(row) for row in rows]
