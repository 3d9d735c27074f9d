"""The place (country, region, city) found for a photo's GPS position, and its taken time with how it was chosen.

Written with the probe result; read by `image-engine tags` and by the search index (place_names).
"""

from __future__ import annotations

import sqlite3
from typing import Any


def record_place(conn: sqlite3.Connection, file_id: int, place: dict[str, Any] | None) -> None:
    """Replace the file's place (none when its GPS names no place, or places are off)."""
    if not place:
        conn.execute("DELETE FROM places WHERE file_id = ?", (file_id,))
        return
    conn.execute(
        "INSERT INTO places (file_id, country, country_code, region, city, distance_km, gazetteer)"
        " VALUES (:file_id, :country, :country_code, :region, :city, :distance_km, :gazetteer)"
        " ON CONFLICT (file_id) DO UPDATE SET country = excluded.country, country_code = excluded.country_code,"
        " region = excluded.region, city = excluded.city, distance_km = excluded.distance_km,"
        " gazetteer = excluded.gazetteer",
        {"file_id": file_id, **{key: place.get(key) for key in PLACE_KEYS}},
    )


PLACE_KEYS = ("country", "country_code", "region", "city", "distance_km", "gazetteer")


def place_of(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(PLACE_KEYS)} FROM places WHERE file_id = ?", (file_id,)).fetchone()
    return None if row is None else dict(zip(PLACE_KEYS, row, strict=True))


def place_names(conn: sqlite3.Connection, file_id: int) -> str:
    """The place as one searchable text ("Rome Lazio Italy IT"); empty when the photo has none."""
    place = place_of(conn, file_id)
    if not place:
        return ""
    return " ".join(str(place[key]) for key in ("city", "region", "country", "country_code") if place[key])


def taken_of(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """The taken time, the step of the chain that gave it, and the dates passed over on the way (taken_note)."""
    row = conn.execute("SELECT taken, taken_source, taken_note FROM media WHERE file_id = ?", (file_id,)).fetchone()
    return None if row is None else {"taken": row[0], "taken_source": row[1], "taken_note": row[2]}
