"""Typed tables written beside the generic `results` row when a stage completes.

Each stage that needs indexed data registers a recorder here; it runs inside the completion transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from daemon.store import places

if TYPE_CHECKING:
    from daemon.store.queue import Job

Recorder = Callable[[sqlite3.Connection, "Job", dict[str, Any]], None]
RECORDERS: dict[str, Recorder] = {}


def recorder(stage: str) -> Callable[[Recorder], Recorder]:
    def register(function: Recorder) -> Recorder:
        RECORDERS[stage] = function
        return function

    return register


def record(conn: sqlite3.Connection, job: Job, stage: str, data: dict[str, Any]) -> None:
    function = RECORDERS.get(stage)
    if function is not None:
        function(conn, job, data)


def _signed64(value: int | None) -> int | None:
    """SQLite integers are signed 64-bit: store a 64-bit hash as its two's-complement value."""
    if value is None:
        return None
    return value - (1 << 64) if value >= (1 << 63) else value


def unsigned64(value: int | None) -> int | None:
    if value is None:
        return None
    return value + (1 << 64) if value < 0 else value


@recorder("probe")
def record_probe(conn: sqlite3.Connection, job: Job, data: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO media (file_id, format, width, height, orientation, taken, taken_source, make, model,"
        " gps_lat, gps_lon) VALUES (:file_id, :format, :width, :height, :orientation, :taken, :taken_source,"
        " :make, :model, :gps_lat, :gps_lon)"
        " ON CONFLICT (file_id) DO UPDATE SET format = excluded.format, width = excluded.width,"
        " height = excluded.height, orientation = excluded.orientation, taken = excluded.taken,"
        " taken_source = excluded.taken_source, make = excluded.make, model = excluded.model,"
        " gps_lat = excluded.gps_lat, gps_lon = excluded.gps_lon",
        {
            "file_id": job.file_id,
            **{
                k: data.get(k)
                for k in (
                    "format",
                    "width",
                    "height",
                    "orientation",
                    "taken",
                    "taken_source",
                    "make",
                    "model",
                    "gps_lat",
                    "gps_lon",
                )
            },
        },
    )
    conn.execute("UPDATE media SET taken_note = ? WHERE file_id = ?", (data.get("taken_note"), job.file_id))
    places.record_place(conn, job.file_id, data.get("place"))


@recorder("hash")
def record_hash(conn: sqlite3.Connection, job: Job, data: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE media SET phash = ?, dhash = ? WHERE file_id = ?",
        (_signed64(int(data["phash"], 16)), _signed64(int(data["dhash"], 16)), job.file_id),
    )
    conn.execute("UPDATE files SET sha256 = ? WHERE id = ?", (data["sha256"], job.file_id))
