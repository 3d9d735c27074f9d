"""Queue a batch of settled files in one transaction: new paths in a few statements, the rest one by one.

Same outcomes as `queue.enqueue(restat=True)` per file; a file that cannot be queued fails alone with its error.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from daemon.errors import StoreError
from daemon.store.connection import transaction
from daemon.store.queue import FileStat, active_job_of, enqueue, look_again


@dataclass(frozen=True)
class Arrival:
    path: str
    root: str
    stat: FileStat


@dataclass
class Enqueued:
    outcome: str  # as queue.enqueue's; "" when the file could not be queued (see `error`)
    job: int | None = None  # the job queued for the file (outcome new or changed)
    error: Exception | None = None


def enqueue_many(
    conn: sqlite3.Connection, arrivals: list[Arrival], first_stage: str, now: float | None = None
) -> list[Enqueued]:
    """One result per arrival, in order, once the batch is committed (a failed commit raises StoreError).

    Each file is looked at again under the write lock first (gone, unsettled), as `enqueue(restat=True)` does.
    Paths the store does not know, whose inode matches no known file (a copy: nearly all of them), are inserted
    together; known paths and possible moves go through `enqueue`, each in its own savepoint.
    """
    now = time.time() if now is None else now
    results: list[Enqueued | None] = [None] * len(arrivals)
    with transaction(conn):
        looked: list[int] = []
        for index, arrival in enumerate(arrivals):
            if not _storable(arrival.path):
                message = f"cannot queue {arrival.path!r}: its name is not valid UTF-8 (rename the file)"
                results[index] = Enqueued("", error=StoreError(message))
                continue
            outcome = look_again(arrival.path, arrival.stat)
            if outcome is None:
                looked.append(index)
            else:
                results[index] = Enqueued(outcome)
        fresh = _fresh_indexes(conn, arrivals, looked)
        fresh_set = set(fresh)
        one_by_one = [index for index in looked if index not in fresh_set]
        if fresh:
            try:
                with transaction(conn):  # a savepoint: a failure undoes only these inserts
                    jobs = _insert_fresh(conn, [arrivals[index] for index in fresh], first_stage, now)
            except sqlite3.Error:
                if not conn.in_transaction:
                    raise  # SQLite undid the whole batch by itself (a full disk): nothing is queued, all stay pending
                one_by_one = looked  # each file alone: the one that cannot be inserted fails by itself
            else:
                for index, job in zip(fresh, jobs, strict=True):
                    results[index] = Enqueued("new", job)
        for index in one_by_one:
            result = results[index] = _enqueue_one(conn, arrivals[index], first_stage, now)
            if result.error is not None and not conn.in_transaction:
                raise result.error  # the whole batch undone (see above): none of it may leave the pending set
    return [result or Enqueued("", error=StoreError("not queued")) for result in results]


def _storable(path: str) -> bool:
    """SQLite holds UTF-8 text: a name that is not (undecodable bytes, kept as surrogates) cannot be a row."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fresh_indexes(conn: sqlite3.Connection, arrivals: list[Arrival], indexes: list[int]) -> list[int]:
    """Those of `indexes` whose path the store does not know and whose (inode, size, mtime) no known file has."""
    if not indexes:
        return []
    paths = json.dumps([arrivals[index].path for index in indexes], ensure_ascii=False)
    known = {row[0] for row in conn.execute(_KNOWN_PATHS, (paths,))}
    unknown = [index for index in indexes if arrivals[index].path not in known]
    inodes = json.dumps(sorted({arrivals[index].stat.inode for index in unknown}))
    same_file = {tuple(row) for row in conn.execute(_SAME_INODES, (inodes,))}
    return [
        index
        for index in unknown
        if _identity(arrivals[index].stat) not in same_file and _fits(_identity(arrivals[index].stat))
    ]


def _identity(stat: FileStat) -> tuple[int, int, int]:
    return stat.inode, stat.size, stat.mtime_ns


def _fits(numbers: tuple[int, ...]) -> bool:
    """SQLite integers are signed 64-bit; JSON would turn a larger inode into a rounded REAL (`enqueue` says so)."""
    return all(-(2**63) <= number < 2**63 for number in numbers)


def _insert_fresh(conn: sqlite3.Connection, arrivals: list[Arrival], first_stage: str, now: float) -> list[int]:
    """Insert the files and their first jobs (ids in the arrivals' order); returns the job ids in that order."""
    rows = [[a.path, a.root, a.stat.size, a.stat.mtime_ns, a.stat.inode] for a in arrivals]
    file_ids = dict(conn.execute(_INSERT_FILES, (json.dumps(rows, ensure_ascii=False), now)).fetchall())
    if len(file_ids) != len(arrivals):
        raise sqlite3.IntegrityError(f"{len(arrivals)} files to insert, {len(file_ids)} inserted")
    jobs = [[file_ids[a.path], a.stat.fingerprint] for a in arrivals]
    job_ids = dict(conn.execute(_INSERT_JOBS, (json.dumps(jobs), first_stage, now)).fetchall())
    return [job_ids[file_id] for file_id, _ in jobs]


def _enqueue_one(conn: sqlite3.Connection, arrival: Arrival, first_stage: str, now: float) -> Enqueued:
    try:
        outcome = enqueue(conn, arrival.path, arrival.root, arrival.stat, first_stage, now=now)
    except (StoreError, sqlite3.Error) as exc:
        return Enqueued("", error=exc)
    except OverflowError as exc:  # an inode past SQLite's 64-bit integers (seen on some network filesystems)
        return Enqueued("", error=StoreError(f"cannot queue {arrival.path!r}: {exc}"))
    job = active_job_of(conn, arrival.path) if outcome in ("new", "changed") else None
    return Enqueued(outcome, job)


_KNOWN_PATHS = "SELECT path FROM files WHERE path IN (SELECT value FROM json_each(?))"
_SAME_INODES = "SELECT inode, size, mtime_ns FROM files WHERE inode IN (SELECT value FROM json_each(?))"
# json_each walks the array in order: ids follow the arrivals' order (claims take the oldest id first).
_INSERT_FILES = (
    "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen)"
    " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
    " json_extract(value, '$[3]'), json_extract(value, '$[4]'), ?2, ?2 FROM json_each(?1) ORDER BY key"
    " RETURNING path, id"
)
_INSERT_JOBS = (
    "INSERT INTO jobs (file_id, fingerprint, stage, state, created_at, updated_at)"
    " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2, 'queued', ?3, ?3"
    " FROM json_each(?1) ORDER BY key RETURNING file_id, id"
)
