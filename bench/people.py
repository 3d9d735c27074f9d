"""Faces and people on ../shared/corpus/faces/ (labels.csv: identities and face count per photo).

Ours: one decode at [people] detect_size (as probe makes it, the usual reduced copy shrunk from it), CenterFace on
that copy, dlib descriptors of what it found. Naive: the same on the full-resolution image. Figures: detection recall
against the face counts (found, capped at the count, over all counted faces; the labels count no faces by size, so
this is recall over all counted faces, the small ones included), extra detections per photo (more than the count:
on the no-face photos these are false faces; on crowds the labels leave background faces uncounted), time per photo
with and without faces (wall and this process's CPU). Grouping: the photos of one labelled person with one face
(and one-face photos of unknown people, each their own identity) go through the engine's grouping in file order
(join the nearest person, else wait; then DBSCAN re-clustering of the unknown faces), scored by purity and by the
clicks a user needs (one name per identity, one merge per further group of it, one removal per wrong face).
Usage: python -m bench.people [--detect-size 768]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from bench.common import CORPUS, emit, log
from daemon.config import PeopleConfig
from daemon.ml.faces import FaceModels, model_name
from daemon.people import grouping
from daemon.pipeline.face_copies import FaceCopies
from daemon.pipeline.imaging import open_image

REDUCED = 384  # engine.reduced_size default


def timed(call: Any, *args: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = call(*args)
    return value, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def ours(models: FaceModels, copies: FaceCopies, data: bytes, path: Any, config: PeopleConfig) -> Any:
    image = open_image(data, path, 1 << 30)
    orientation = (image.getexif() or {}).get(0x0112)
    copies.keep(0, image, orientation, REDUCED)
    copy = copies.get(0)
    found = models.detect(copy, config.min_score)
    full_width = image.size[1] if orientation in (5, 6, 7, 8) else image.size[0]
    scale = full_width / copy.width
    found = [d for d in found if min(d.box[2], d.box[3]) * scale >= config.min_face_pixels]
    return found, models.describe(copy, found)


def naive(models: FaceModels, data: bytes, config: PeopleConfig) -> Any:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    found = models.detect(image, config.min_score)
    return found, models.describe(image, found)


def simulate_grouping(identities: list[str], embeddings: np.ndarray, config: PeopleConfig) -> list[int | None]:
    """The engine's grouping, in file order: person index per face (None: still unknown)."""
    assigned: list[int | None] = [None] * len(identities)
    members: list[list[int]] = []
    for index in range(len(identities)):
        centroids = np.stack([embeddings[m].mean(axis=0) for m in members]) if members else np.zeros((0, 128))
        match = grouping.nearest(embeddings[index : index + 1], centroids, config.match_distance)[0]
        if match is not None:
            members[match].append(index)
            assigned[index] = match
    unknown = [i for i, person in enumerate(assigned) if person is None]
    for group in grouping.clusters(embeddings[unknown], config.cluster_distance, config.min_faces):
        rows = [unknown[i] for i in group]
        centroids = np.stack([embeddings[m].mean(axis=0) for m in members]) if members else np.zeros((0, 128))
        centre = embeddings[rows].mean(axis=0, keepdims=True)
        match = grouping.nearest(centre, centroids, config.match_distance)[0]
        if match is None:
            members.append([])
            match = len(members) - 1
        members[match].extend(rows)
        for row in rows:
            assigned[row] = match
    return assigned


def grouping_figures(identities: list[str], assigned: list[int | None]) -> dict[str, Any]:
    groups: dict[int, list[str]] = {}
    for identity, person in zip(identities, assigned, strict=True):
        if person is not None:
            groups.setdefault(person, []).append(identity)
    grouped = sum(len(g) for g in groups.values())
    majority = sum(Counter(g).most_common(1)[0][1] for g in groups.values())
    named = [i for i in set(identities) if not i.startswith("unknown:")]
    clicks, covered, total, alone = 0, 0, 0, 0
    for identity in named:
        faces = identities.count(identity)
        total += faces
        own = [(g.count(identity), p) for p, g in groups.items() if Counter(g).most_common(1)[0][0] == identity]
        own.sort(reverse=True)
        if own:
            covered += own[0][0]
            clicks += 1 + (len(own) - 1) + sum(len(groups[p]) - n for n, p in own)  # name, merges, removals
        left_out = faces - sum(n for n, _ in own)
        alone += left_out
        clicks += left_out  # each face in no group of its own: `people split FACE --name NAME`
    return {
        "faces": len(identities),
        "grouped": grouped,
        "groups": len(groups),
        "purity": round(majority / grouped, 3) if grouped else None,
        "named_identities": len(named),
        "clicks_to_name_every_identity": clicks,
        "named_share_after_one_name_each": round(covered / total, 3) if total else None,
        "named_faces_in_no_group": alone,
        "named_identities_with_one_photo": sum(identities.count(i) == 1 for i in named),
        "groups_detail": {str(p): dict(Counter(g)) for p, g in sorted(groups.items())},
    }


def large_photo_figures(rows: list[dict[str, Any]], detect_size: int) -> dict[str, Any]:
    """Where the two ways differ: photos larger than the face copy (the others are detected at full size by both)."""
    large = [r for r in rows if r["longest_side"] > detect_size * 3 // 2]
    if not large:
        return {"photos": 0}
    return {
        "photos": len(large),
        "cpu_ms_median": round(median(r["cpu_ms"] for r in large), 1),
        "naive_cpu_ms_median": round(median(r["naive_cpu_ms"] for r in large), 1),
        "found": sum(min(r["found"], r["faces"]) for r in large),
        "naive_found": sum(min(r["naive_found"], r["faces"]) for r in large),
        "faces": sum(r["faces"] for r in large),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detect-size", type=int, default=PeopleConfig().detect_size)
    parser.add_argument("--device", default="cpu", choices=("cpu", "auto", "cuda"))
    parser.add_argument("--match-distance", type=float, default=PeopleConfig().match_distance)
    parser.add_argument("--cluster-distance", type=float, default=PeopleConfig().cluster_distance)
    args = parser.parse_args()
    config = PeopleConfig(
        detect_size=args.detect_size, match_distance=args.match_distance, cluster_distance=args.cluster_distance
    )
    models = FaceModels(device=args.device, threads=1)
    models.load()
    copies = FaceCopies(Path(tempfile.mkdtemp(prefix="bench-people-")), config.detect_size)  # held in memory
    with open(CORPUS / "faces" / "labels.csv", newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    rows, identities, vectors = [], [], []
    for label in labels:
        path = CORPUS / label["file"]
        data = path.read_bytes()
        (found, described), ms, cpu = timed(ours, models, copies, data, path, config)
        copies.drop(0)
        (naive_found, _), naive_ms, naive_cpu = timed(naive, models, data, config)
        count = int(label["face_count"])
        row = {
            "file": label["file"],
            "longest_side": max(Image.open(path).size),
            "faces": count,
            "found": len(found),
            "naive_found": len(naive_found),
            "ms": round(ms, 1),
            "cpu_ms": round(cpu, 1),
            "naive_ms": round(naive_ms, 1),
            "naive_cpu_ms": round(naive_cpu, 1),
        }
        rows.append(row)
        log(f"  {label['file']}: {count} faces, found {len(found)} (naive {len(naive_found)}), {row['ms']} ms")
        names = [n for n in label["identities"].split(";") if n]
        if count == 1 and len(names) == 1 and found:
            best = int(np.argmax([d.score for d in found]))
            identities.append(names[0] if names[0] != "unknown" else f"unknown:{label['file']}")
            vectors.append(described[best])
    counted = sum(r["faces"] for r in rows)
    no_face = [r for r in rows if r["faces"] == 0]

    def recall(key: str) -> float:
        return round(sum(min(r[key], r["faces"]) for r in rows) / counted, 3)

    emit(
        {
            "model": model_name(),
            "detect_size": config.detect_size,
            "min_score": config.min_score,
            "photos": len(rows),
            "counted_faces": counted,
            "recall": recall("found"),
            "naive_recall": recall("naive_found"),
            "false_faces_on_no_face_photos": sum(r["found"] for r in no_face),
            "naive_false_faces_on_no_face_photos": sum(r["naive_found"] for r in no_face),
            "extra_detections_per_photo": round(sum(max(0, r["found"] - r["faces"]) for r in rows) / len(rows), 3),
            "ms_per_photo_with_faces_median": round(median(r["ms"] for r in rows if r["faces"]), 1),
            "ms_per_photo_without_faces_median": round(median(r["ms"] for r in no_face), 1),
            "cpu_ms_per_photo_median": round(median(r["cpu_ms"] for r in rows), 1),
            "naive_ms_per_photo_with_faces_median": round(median(r["naive_ms"] for r in rows if r["faces"]), 1),
            "naive_ms_per_photo_without_faces_median": round(median(r["naive_ms"] for r in no_face), 1),
            "naive_cpu_ms_per_photo_median": round(median(r["naive_cpu_ms"] for r in rows), 1),
            "large_photos": large_photo_figures(rows, config.detect_size),
            "match_distance": config.match_distance,
            "cluster_distance": config.cluster_distance,
            "grouping": grouping_figures(identities, simulate_grouping(identities, np.stack(vectors), config)),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "files": rows,
        }
    )


if __name__ == "__main__":
    main()
