"""The user's per-photo decisions on duplicates (keep / trash) from the review app or `image-engine dupes`.

The dedup result of a chosen file carries the choice (daemon/dedup/grouping.py `decide`), so later stages obey it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from daemon.store import dedup
from daemon.store.connection import transaction

CHOICES = ("keep", "trash")


def of_files(conn: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, str]:
    """file id -> 'keep' | 'trash' for the chosen ones among `file_ids`."""
    rows = dedup._in(conn, "SELECT file_id, choice FROM dedup_choices WHERE file_id IN ({ids})", set(file_ids))
    return {row[0]: row[1] for row in rows}


def record(conn: sqlite3.Connection, choices: dict[int, str]) -> None:
    """Store the choices in one transaction; refuses to trash every present copy of a group (one is always kept)."""
    for file_id, choice in choices.items():
        if choice not in CHOICES:
            raise ValueError(f"a duplicate is kept or trashed, not {choice!r} (file {file_id})")
    with transaction(conn):
        groups = dedup.groups_of(conn, list(choices))
        for file_id in choices:
            if groups.get(file_id) is None:
                path = conn.execute("SELECT path FROM files WHERE id = ?", (file_id,)).fetchone()
                raise ValueError(f"{path[0] if path else file_id}: in no duplicate group (see `image-engine dupes`)")
        now = time.time()
        conn.executemany(
            "INSERT INTO dedup_choices (file_id, choice, decided_at) VALUES (?, ?, ?) ON CONFLICT (file_id)"
            " DO UPDATE SET choice = excluded.choice, decided_at = excluded.decided_at",
            [(file_id, choice, now) for file_id, choice in choices.items()],
        )
        for group_id in set(groups.values()):
            members = [m for m, g in dedup.members_of(conn, [group_id]).items() if g == group_id]
            present = {
                row[0] for row in dedup._in(conn, "SELECT id FROM files WHERE present = 1 AND id IN ({ids})", members)
            }
            trashed = {file_id for file_id, choice in of_files(conn, members).items() if choice == "trash"}
            if present and present <= trashed:
                raise ValueError(f"group {group_id}: keep at least one copy (every one would go to the trash)")
