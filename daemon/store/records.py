"""The probe and hash stages' typed tables (media, files.sha256), written beside the generic `results` row.

Each stage's `record` calls its store function inside the completion transaction; there is no registry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from daemon.store.queue import Job


def _signed64(value: int | None) -> int | None:
    """SQLite integers are signed 64-bit: store a 64-bit hash as its two's-complement value."""
    if value is None:
        return None
    return value - (1 << 64) if value >= (1 << 63) else value


def unsigned64(value: int | None) -> int | None:
    if value is None:
        return None
    return value + (1 << 64) if value < 0 else value


def record_probe(conn: sqlite3.Connection, job: Job, data: Mapping[str, Any]) -> None:
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


def record_hash(conn: sqlite3.Connection, job: Job, data: Mapping[str, Any]) -> None:
    conn.execute(
        "UPDATE media SET phash = ?, dhash = ? WHERE file_id = ?",
        (_signed64(int(data["phash"], 16)), _signed64(int(data["dhash"], 16)), job.file_id),
    )
    conn.execute("UPDATE files SET sha256 = ? WHERE id = ?", (data["sha256"], job.file_id))
