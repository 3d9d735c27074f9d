"""Stage `probe`: open and verify the image, read its EXIF facts, and decode the reduced RGB copy.

The bytes read here are kept in memory so `hash` does not read the file twice.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from daemon.errors import GoneError, PermanentError, RetryableError
from daemon.pipeline import exif, imaging
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.places import Gazetteer
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.store import records
from daemon.store.queue import Job

if TYPE_CHECKING:
    from daemon.pipeline.face_copies import FaceCopies


class ProbeResult(TypedDict, total=False):
    """What `probe` found; plus the EXIF facts of `exif.read_facts` (orientation, taken, make, model, gps_...)."""

    format: str | None
    width: int
    height: int
    size: int
    reduced: list[int]
    orientation: int | None
    taken: str | None
    taken_source: str | None
    taken_note: str | None  # the dates passed over on the way (daemon/pipeline/taken.py)
    make: str | None
    model: str | None
    gps_lat: float | None
    gps_lon: float | None
    lens: str | None
    place: dict[str, Any] | None  # country, region, city from GPS ([places]; daemon/pipeline/places.py)


class ProbeStage(Stage):
    name = "probe"
    pool = "cpu"
    pure = True  # reads the file; the reduced copy stays in this process

    def __init__(self, reduced_size: int, max_pixels: int, cache: ReducedCache, places: Gazetteer | None = None):
        self.reduced_size = reduced_size
        self.max_pixels = max_pixels
        self.cache = cache
        self.places = places
        self.face_copies: FaceCopies | None = None  # [people]: a larger copy for face detection, same decode

    def ready(self) -> bool:
        return self.places is None or self.places.warm

    def prepare(self) -> None:
        """The gazetteer loads before the first file (seconds): an engine death meanwhile is not the files' fault,
        and no single photo (the first with GPS after each start) carries the wait."""
        if self.places is not None:
            self.places.warm_up()

    def record(self, conn: sqlite3.Connection, job: Job, result: ProbeResult) -> None:  # type: ignore[override]
        records.record_probe(conn, job, result)

    def run(self, item: WorkItem) -> ProbeResult:  # type: ignore[override]
        path = item.path  # a new Path on each access
        data = source_bytes(item)
        mtime = item.memory["mtime"] if "mtime" in item.memory else os.stat(path).st_mtime
        image = imaging.open_image(data, path, self.max_pixels)
        facts = exif.read_facts(image, mtime, path.name, data)
        place = self.places.lookup(facts["gps_lat"], facts["gps_lon"]) if self.places else None
        width, height = image.size
        file_format = image.format
        if self.face_copies is not None:
            reduced = self.face_copies.keep(item.job.file_id, image, facts["orientation"], self.reduced_size)
        else:
            reduced = imaging.reduce(image, self.reduced_size, facts["orientation"])
        self.cache.put(item.job.file_id, reduced)
        item.memory["bytes"] = data
        item.memory["reduced"] = reduced
        return {
            "format": file_format,
            "width": width,
            "height": height,
            "size": len(data),
            "reduced": list(reduced.size),
            **facts,
            "place": place.to_json() if place else None,
        }


def source_bytes(item: WorkItem) -> bytes:
    """The photo's bytes: shipped with the item by its owning engine (a cluster node without the library mount,
    daemon/executors), else read from the path."""
    shipped = item.memory.get("shipped")
    return shipped if shipped is not None else read_bytes(item.path)


def read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise GoneError("file disappeared before it could be read") from None
    except IsADirectoryError:
        raise PermanentError("is a folder, not a file") from None
    except PermissionError:
        raise PermanentError("permission denied: the service user cannot read this file") from None
    except OSError as exc:
        raise RetryableError(f"cannot read file: {exc.strerror or exc}") from None
