"""Stage `dedup`: is this file a copy of one already known? Exact copies by SHA-256, near-duplicates by pHash.

pHash candidates come from the in-memory index (rebuilt from the store at the first job, then kept up to date: the
"dedup" pool has one worker, so files are judged one at a time); dHash confirms, or a stored embedding does.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from PIL import Image

from daemon.config import DedupConfig
from daemon.dedup.grouping import Facts, Link, Thresholds, decide, judge
from daemon.dedup.index import HashIndex, hamming
from daemon.dedup.orientations import orientation_hashes
from daemon.dedup.regions import EmbeddingTable, best_candidates, region_links
from daemon.pipeline import imaging  # noqa: F401 - registers the HEIF opener for capture_subsec
from daemon.pipeline.base import Stage, WorkItem
from daemon.pipeline.hashing import hash_input
from daemon.pipeline.probe import read_bytes
from daemon.pipeline.thumbnails import Thumbnails
from daemon.store import Store, dedup_choices, embeddings
from daemon.store import dedup as dedup_store
from daemon.store.queue import Job

log = logging.getLogger("image_engine.dedup")
TAG_EXIF_IFD, TAG_SUBSEC_ORIGINAL = 0x8769, 0x9291
MAX_EXACT_LINKS, MAX_NEAR_LINKS = 2, 16
MAX_PIXELS, REDUCED_SIDE = 200_000_000, 384  # a candidate's pixels for the crop check, as probe reduces them


class DedupResult(TypedDict, total=False):
    """The verdict of `dedup.grouping.decide`, plus the links found to known copies."""

    group: int | None
    keeper: bool
    duplicate_of: str | None
    kind: str | None
    reason: str
    action: str
    skip_filing: bool
    move_to_duplicates: bool
    choice: str | None  # the user's 'keep' / 'trash' (daemon/store/dedup_choices.py), when given
    matches: list[dict[str, Any]]  # file, path, link (the Link as a dict)


class DedupStage(Stage):
    name = "dedup"
    pool = "dedup"
    one_by_one = True  # copies claimed together must see each other's links: judged and recorded in turn

    def __init__(self, config: DedupConfig, store: Store, thumbs: Thumbnails | None = None):
        self.config = config
        self.store = store
        self.thumbs = thumbs
        self.thresholds = Thresholds(
            phash=config.phash_distance,
            dhash=config.dhash_distance,
            similarity=config.embedding_similarity,
            embedding_phash=config.embedding_phash_distance,
            use_embeddings=config.use_embeddings,
        )
        self.rules = list(config.keeper)
        self.index: HashIndex | None = None
        self.vectors: EmbeddingTable | None = None  # embeddings of the files judged, for crops and screenshots
        dedup_store.set_keeper_rules(store.conn, self.rules)

    def hash_index(self) -> HashIndex:
        if self.index is None:
            started = time.perf_counter()
            ids, values = dedup_store.load_hashes(self.store.conn)
            self.index = HashIndex(ids, values)
            log.info(
                "dedup index loaded",
                extra={
                    "event": "dedup_index_loaded",
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "detail": f"{len(ids)} pHashes, {self.index.nbytes / 1e6:.1f} MB",
                },
            )
        return self.index

    def record(self, conn: sqlite3.Connection, job: Job, result: DedupResult) -> None:  # type: ignore[override]
        """Plans the groups again inside the transaction; raises StaleDecision when they changed meanwhile."""
        dedup_store.record_dedup(conn, job, result)

    def run(self, item: WorkItem) -> DedupResult:  # type: ignore[override]
        conn = self.store.conn
        file_id = item.job.file_id
        me = dedup_store.facts(conn, [file_id])[file_id]
        links, misses = self.find(item, me)
        plan, known, all_links = dedup_store.plan_for(conn, file_id, links, self.rules)
        alone = "no duplicates found"
        if misses:
            alone += "; similar to " + "; ".join(f"{path} but {why}" for path, why in misses[:3])
        result = DedupResult(
            **decide(
                known[file_id],
                plan.group_of(file_id),
                known,
                all_links,
                self.config.action,
                alone,
                choice=dedup_choices.of_files(conn, [file_id]).get(file_id),
            )
        )
        result["matches"] = [
            {"file": link.other(file_id), "path": known[link.other(file_id)].path, "link": asdict(link)}
            for link in links
        ]
        index = self.hash_index()
        if me.comparable and me.phash is not None:
            index.add(file_id, me.phash)
        else:
            index.remove(file_id)
        mine = self.embedding(file_id)
        if mine is not None and self.vectors is not None and self.vectors.model == mine[0]:
            self.vectors.add(file_id, mine[1])
        return result

    def find(self, item: WorkItem, me: Facts) -> tuple[list[Link], list[tuple[str, str]]]:
        """Links to every known copy of `me`, and near misses worth telling the user about (path, why not)."""
        conn = self.store.conn
        links: dict[int, Link] = {}
        if me.sha256:
            # A link or two joins the group; linking to every copy made each new copy re-plan all pairs of them.
            for twin in dedup_store.exact_twins(conn, me.sha256, me.id)[:MAX_EXACT_LINKS]:
                links[twin] = Link(min(me.id, twin), max(me.id, twin), "exact")
        misses: list[tuple[str, str]] = []
        if not me.comparable:
            return list(links.values()), misses
        index = self.hash_index()
        best: dict[int, tuple[int, int, int]] = {}  # candidate -> (pHash distance, rotation, dHash of me so rotated)
        for rotation, phash, dhash in self.rotations(item, me):
            ids, distances = index.query_arrays(phash, self.thresholds.radius)
            for candidate, distance in zip(ids.tolist(), distances.tolist(), strict=True):
                if candidate != me.id and (candidate not in best or distance < best[candidate][0]):
                    best[candidate] = (distance, rotation, dhash)
        # Identical copies of this file are linked above already: their facts are not read (a group of 200 copies
        # put all 200 among the candidates of each new copy).
        same = dedup_store.with_content(conn, best, me.sha256) if me.sha256 else set()
        known = dedup_store.facts(conn, set(best) - same)
        mine = self.embedding(me.id)
        linked_contents = {me.sha256}
        for candidate, (distance, rotation, dhash) in sorted(best.items(), key=lambda item: item[1][0]):
            if candidate in same:
                continue
            other = known.get(candidate)
            if other is None or not other.present or other.dhash is None:
                index.remove(candidate)
                continue
            if candidate in links or other.sha256 in linked_contents or len(links) >= MAX_NEAR_LINKS:
                continue  # one link to each distinct content, the strongest first, is enough to join its group
            similarity = self.similarity(mine, candidate)
            subsec = (None, None)
            if me.camera_time and me.camera_time == other.camera_time:
                subsec = (capture_subsec(me.path), capture_subsec(other.path))
            verdict = judge(
                me, other, self.thresholds, distance, hamming(dhash, other.dhash), similarity, rotation, subsec
            )
            if verdict.link is not None:
                links[candidate] = verdict.link
                linked_contents.add(other.sha256)
            elif distance <= self.thresholds.phash:
                misses.append((other.path, verdict.why))
        if mine is not None and len(links) < MAX_NEAR_LINKS:
            for link in self.regions(item, me, mine, set(links) | set(best), linked_contents):
                links[link.other(me.id)] = link
        return list(links.values()), misses

    def regions(
        self, item: WorkItem, me: Facts, mine: tuple[str, np.ndarray], seen: set[int], contents: set[str | None]
    ) -> list[Link]:
        """Links to files that `me` is a crop of or a screenshot of (or that are crops of `me`): the most similar
        stored embeddings, confirmed by comparing the pixels."""
        table = self.embedding_table(mine[0])
        shortlist = table.shortlist(mine[1], seen | {me.id})
        stored = {file_id: self.embedding(file_id) for file_id in shortlist}
        theirs = {file_id: found[1] for file_id, found in stored.items() if found and found[0] == mine[0]}
        nearest = best_candidates(mine[1], theirs)
        if not nearest:
            return []
        known = dedup_store.facts(self.store.conn, [file_id for file_id, _ in nearest])
        candidates = [
            (known[file_id], cosine)
            for file_id, cosine in nearest
            if file_id in known and known[file_id].present and known[file_id].sha256 not in contents
        ]
        if not candidates:
            return []
        try:
            reduced = item.reduced()
        except Exception:  # noqa: BLE001 - without the pixels nothing is confirmed
            return []
        return region_links(me, reduced, candidates, self.pixels_of)

    def pixels_of(self, other: Facts) -> Image.Image | None:
        """A reduced copy of a candidate: its thumbnail when the hash stage saved one, else decoded."""
        if self.thumbs is not None and other.sha256:
            try:
                with Image.open(self.thumbs.path(other.sha256, "thumb")) as thumb:
                    return thumb.convert("RGB")
            except OSError:
                pass  # not made (yet), or removed: decode the photo
        try:
            image = imaging.open_image(read_bytes(Path(other.path)), Path(other.path), MAX_PIXELS)
            return imaging.reduce(image, REDUCED_SIDE, other.orientation)
        except Exception:  # noqa: BLE001 - moved, deleted or unreadable since: not a duplicate we can confirm
            return None

    def embedding_table(self, model: str) -> EmbeddingTable:
        if self.vectors is None or self.vectors.model != model:
            ids, matrix = embeddings.all_for_model(self.store.conn, model)
            self.vectors = EmbeddingTable(model, ids, matrix)
        return self.vectors

    def rotations(self, item: WorkItem, me: Facts) -> list[tuple[int, int, int]]:
        """(rotation code, pHash, dHash) of the file as stored, turned by 90, 180 and 270 degrees, and mirrored in
        each of those: a copy whose Orientation tag was dropped or changed, or a mirrored selfie, is still found."""
        assert me.phash is not None and me.dhash is not None
        variants = [(0, me.phash, me.dhash)]
        try:
            reduced = item.reduced()
        except Exception as exc:  # noqa: BLE001 - without the pixels only the upright hashes are compared
            log.warning(
                "no reduced image",
                extra={"event": "dedup_no_pixels", "job": item.job.id, "path": str(item.path), "error": str(exc)},
            )
            return variants
        # All from the small grey hash copy: one resize, then turning 32x32 arrays (imagehash would resize 7 times).
        return variants + orientation_hashes(hash_input(reduced))[1:]

    def embedding(self, file_id: int) -> tuple[str, np.ndarray] | None:
        if not self.thresholds.use_embeddings:
            return None
        return embeddings.get(self.store.conn, file_id)

    def similarity(self, mine: tuple[str, np.ndarray] | None, other_id: int) -> float | None:
        if mine is None:
            return None
        other = embeddings.get(self.store.conn, other_id)
        if other is None or other[0] != mine[0] or other[1].shape != mine[1].shape:
            return None
        a, b = mine[1], other[1]
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        return round(float(a @ b) / norms, 4) if norms else None


def capture_subsec(path: str) -> str | None:
    """EXIF SubSecTimeOriginal (the fraction of the capture second), which tells burst frames apart."""
    try:
        with Image.open(path) as image:
            value = image.getexif().get_ifd(TAG_EXIF_IFD).get(TAG_SUBSEC_ORIGINAL)
    except Exception:  # noqa: BLE001 - unreadable or vanished: unknown, never a reason to fail
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value or "").strip("\x00 ")
    return text or None
