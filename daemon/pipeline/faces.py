"""Stage `faces`: detect faces on the copy probe decoded for them, describe each, read the names other programs left
in the file, and record them; new faces join the nearest known person (daemon/people/service.py) in the same step.

A stage rather than an analyzer: it owns tables, groups across photos, and waits (not fails) without its models.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from daemon.errors import WaitingError
from daemon.ml.base import ModelMissing
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.store import faces as faces_store
from daemon.store import people as people_store
from daemon.store.faces import overlap
from daemon.store.queue import Job

if TYPE_CHECKING:
    from PIL import Image

    from daemon.config import PeopleConfig
    from daemon.ml.faces import FaceModels
    from daemon.people.service import Grouping
    from daemon.tools.exiftool import ExifTool

log = logging.getLogger("image_engine.people")
WAIT_FOR_MODEL = 300.0
REGION_MATCH = 0.3  # a named region this much over a detected face (IoU) names that face


class FacesResult(TypedDict, total=False):
    model: str
    size: list[int]  # the oriented full image: what the boxes are in
    detected_on: list[int]  # the copy the detector saw
    faces: list[dict[str, Any]]  # box [x, y, w, h], score, name (from the file's own regions) or None
    named_in_file: int


class FacesStage(Stage):
    name = "faces"
    pool = "faces"
    heavy = True

    def __init__(self, config: PeopleConfig, models: FaceModels, copies: ReducedCache, max_pixels: int):
        self.config = config
        self.models = models
        self.copies = copies
        self.max_pixels = max_pixels
        self.tool: ExifTool | None = None
        self.idle_unload_seconds = 300.0  # [tagging] idle_unload_seconds: an idle engine holds no model

    def available(self) -> str | None:
        self.models.unload_if_idle(self.idle_unload_seconds)  # the workers ask before each claim: a cheap tick
        reason = self.models.missing()
        return f"faces: {reason}" if reason else None

    def grouping(self) -> Grouping:
        from daemon.people.service import Grouping

        people = self.config
        return Grouping(people.match_distance, people.cluster_distance, people.min_faces)

    def run(self, item: WorkItem) -> dict[str, Any]:
        copy = self.face_copy(item)
        size = oriented_size(item.result("probe"))
        scale = size[0] / copy.width
        try:
            detections = self.models.detect(copy, self.config.min_score)
            detections = [d for d in detections if min(d.box[2], d.box[3]) * scale >= self.config.min_face_pixels]
            embeddings = self.models.describe(copy, detections)
        except ModelMissing as exc:
            raise WaitingError(f"faces: {exc}", WAIT_FOR_MODEL) from exc
        faces = [{"box": [round(v * scale, 1) for v in d.box], "score": d.score, "name": None} for d in detections]
        named = self.named_regions(item, size, faces)
        self.copies.drop(item.job.file_id)
        return {
            "model": self.models.name,
            "size": size,
            "detected_on": [copy.width, copy.height],
            "faces": faces,
            "named_in_file": named,
            "_embeddings": embeddings,
        }

    def face_copy(self, item: WorkItem) -> Image.Image:
        """Probe's copy for faces; decoded again from the file only when it was lost (an engine restart)."""
        copy = self.copies.get(item.job.file_id)
        if copy is not None:
            return copy
        from daemon.pipeline.imaging import open_image, reduce
        from daemon.pipeline.probe import read_bytes

        log.info("face copy decoded again", extra={"event": "faces_copy_missing", "path": str(item.path)})
        image = open_image(read_bytes(item.path), item.path, self.max_pixels)
        return reduce(image, self.config.detect_size, item.result("probe").get("orientation"))

    def named_regions(self, item: WorkItem, size: list[int], faces: list[dict[str, Any]]) -> int:
        """Names the file already carries (MWG or Microsoft regions): each names the detected face it covers, or
        is kept as a face of its own. Returns how many names were found."""
        if not self.config.read_regions:
            return 0
        from daemon.people import regions

        tool = self.exiftool()
        if tool is None or tool.path is None:
            return 0
        found: list[regions.Region] = []
        for outcome in tool.run([regions.read_command(path) for path in regions.sources(item.path)]):
            if outcome.status == 0 and outcome.stdout:
                new = regions.parse(outcome.stdout, (size[0], size[1]))
                found += [r for r in new if all(r.name.casefold() != f.name.casefold() for f in found)]
        for region in found:
            best = max(faces, key=lambda face: overlap(tuple(face["box"]), region.box), default=None)
            if best is not None and best["name"] is None and overlap(tuple(best["box"]), region.box) >= REGION_MATCH:
                best["name"] = region.name
            else:
                faces.append({"box": [round(v, 1) for v in region.box], "score": None, "name": region.name})
        return len(found)

    def exiftool(self) -> ExifTool | None:
        if self.tool is None:
            from daemon.tools.exiftool import ExifTool

            self.tool = ExifTool(self.config.exiftool)
        return self.tool

    def record(self, conn: sqlite3.Connection, job: Job, result: dict[str, Any]) -> None:
        record_faces(conn, job.file_id, result, self.grouping())

    def close(self) -> None:
        self.models.close()
        if self.tool is not None:
            self.tool.close()


def record_faces(conn: sqlite3.Connection, file_id: int, result: dict[str, Any], settings: Grouping) -> None:
    """Store the faces; names from the file seed (or join) named people; the rest join the nearest known person."""
    from daemon.people.service import join_known

    now = time.time()
    embeddings = result.get("_embeddings")
    if embeddings is None:  # recorded from JSON (a test, a replay): no descriptors
        embeddings = np.zeros((0, 128), dtype=np.float32)
    rows = []
    for index, face in enumerate(result.get("faces") or []):
        row: dict[str, Any] = {"box": face["box"], "score": face.get("score"), "model": result.get("model", "")}
        if index < len(embeddings):
            row["embedding"] = embeddings[index]
        else:
            row["source"] = "file"
        if face.get("name"):
            row["person_id"] = people_store.named(conn, face["name"], "file")
            row["assigned_by"] = "file"
        rows.append(row)
    recorded = faces_store.record_faces(conn, file_id, rows, now)
    waiting = [
        (face_id, row["embedding"])
        for (face_id, settled), row in zip(recorded, rows, strict=True)
        if "embedding" in row and not settled
    ]
    if waiting:
        join_known(conn, [w[0] for w in waiting], np.stack([w[1] for w in waiting]), settings)
    faces_store.publish(conn, file_id, rerun=None, now=now)


def oriented_size(probe: dict[str, Any]) -> list[int]:
    width, height = int(probe.get("width") or 0), int(probe.get("height") or 0)
    return [height, width] if probe.get("orientation") in (5, 6, 7, 8) else [width, height]
