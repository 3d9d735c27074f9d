"""Crops and screenshots: recall and precision of the pixel check that confirms them (dedup/contains.py).

Positives: each corpus photo (the set bench.dedup_quality uses) against its crops (15%, 25%, 35% centred, 30% from one
side) and screenshots (a viewer showing it at 60% and 35% of a 1280x800 screen). Negatives: every pair of different
corpus pictures, checked by pixels alone (the engine only checks the few most similar embeddings, and vetoes two
capture times first: this is the harder test). FELIX "Excluded" masked copies of one photo are reported apart.
With --embeddings, EfficientNet-Lite0 pooled features (the default tagger's) give each copy's cosine to its photo
and how many distinct pairs reach the candidate floor (the engine compares their pixels).
Usage: python -m bench.dedup_regions [--quick] [--embeddings]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import CORPUS, emit, log
from bench.dedup_quality import originals, reduced_of
from daemon.dedup.contains import find_region
from daemon.dedup.regions import CANDIDATE_SIMILARITY
from tests.dedup_support import crop_copy, screenshot_of

COPIES = {
    "crop15": lambda source, target: crop_copy(source, target.with_suffix(".jpg"), 0.15),
    "crop25": lambda source, target: crop_copy(source, target.with_suffix(".jpg"), 0.25),
    "crop35": lambda source, target: crop_copy(source, target.with_suffix(".jpg"), 0.35),
    "crop30side": lambda source, target: crop_copy(source, target.with_suffix(".jpg"), 0.30, side=True),
    "screenshot60": lambda source, target: screenshot_of(source, target.with_suffix(".png"), 0.6),
    "screenshot35": lambda source, target: screenshot_of(source, target.with_suffix(".png"), 0.35),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="every 4th corpus photo (default: every 2nd)")
    parser.add_argument("--embeddings", action="store_true", help="cosines of EfficientNet-Lite0 features (torch)")
    args = parser.parse_args()
    embed = embedder() if args.embeddings else None
    cosines: dict[str, list[float]] = {kind: [] for kind in COPIES}
    sources = originals(args.quick)
    reduced = {path: reduced_of(path) for path in sources}
    recall: dict[str, list[float]] = {kind: [] for kind in COPIES}
    missed: list[tuple[str, str, float]] = []
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        for index, source in enumerate(sources):
            log(f"{index + 1}/{len(sources)} {source.name}")
            for kind, make in COPIES.items():
                copy = make(source, Path(folder) / f"{source.stem}__{kind}")
                started = time.perf_counter()
                region = find_region(reduced[source], reduced_of(copy))
                timings.append(time.perf_counter() - started)
                recall[kind].append(region.score if region else 0.0)
                if embed is not None:
                    cosines[kind].append(round(float(embed(reduced[source]) @ embed(reduced_of(copy))), 3))
                if region is None:
                    missed.append((source.name, kind, 0.0))
    others = [CORPUS / "duplicates" / name for name in ("canon_hdr_NO.jpg", "canon_hdr_YES.jpg")]
    others += [CORPUS / "labelled" / f"skimage_motorcycle_{side}.png" for side in ("left", "right")]
    felix = sorted((CORPUS / "labelled").glob("felix_*.jpg"))
    for path in others + felix:
        reduced.setdefault(path, reduced_of(path))
    masked = {p for p in felix if int(p.stem.split("_")[1]) >= 400}
    wrong, ambiguous, negatives = [], [], 0
    for a, b in itertools.combinations(sorted(reduced), 2):
        region = find_region(reduced[a], reduced[b])
        if a in masked and b in masked and a.stem[:8] == b.stem[:8]:
            ambiguous.append((a.name, b.name, region.score if region else None))
            continue
        negatives += 1
        if region is not None:
            wrong.append((a.name, b.name, region.score, region.share))
    found = sum(score > 0 for scores in recall.values() for score in scores)
    figures: dict[str, Any] = {
        "photos": len(sources),
        "negative_pairs": negatives,
        "recall": round(found / sum(len(scores) for scores in recall.values()), 4),
        "precision": round(found / (found + len(wrong)), 4) if found else 1.0,
        "recall_by_kind": {kind: round(sum(s > 0 for s in scores) / len(scores), 3) for kind, scores in recall.items()},
        "lowest_score_by_kind": {kind: round(min(scores), 4) for kind, scores in recall.items()},
        "distinct_pairs_matched": wrong,
        "missed": missed,
        "ambiguous": ambiguous,
        "check_ms_median": round(1000 * sorted(timings)[len(timings) // 2], 1),
    }
    if embed is not None:
        vectors = {path: embed(image) for path, image in reduced.items()}
        pairs = [float(vectors[a] @ vectors[b]) for a, b in itertools.combinations(sorted(reduced), 2)]
        figures["embedding_cosine_min_by_kind"] = {kind: min(values) for kind, values in cosines.items()}
        figures["embedding_cosine_by_kind"] = cosines
        figures["distinct_pairs_at_or_above_floor"] = sum(c >= CANDIDATE_SIMILARITY for c in pairs)
        figures["candidate_floor"] = CANDIDATE_SIMILARITY
    emit(figures)


def embedder():  # noqa: ANN201 - (PIL image) -> unit numpy vector
    """The default tagger's stored embedding (EfficientNet-Lite0, its own preprocessing) of a reduced copy."""
    from daemon.config import TaggingConfig
    from daemon.ml.imagenet import ImagenetBackend

    backend = ImagenetBackend(TaggingConfig())
    backend.load("cpu")
    return lambda image: backend.predict([image.convert("RGB")])[0].embedding


if __name__ == "__main__":
    main()
