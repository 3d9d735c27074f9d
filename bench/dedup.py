"""Dedup index: build and query time at 10k / 100k / 1M pHashes against brute force in the same run (numpy XOR +
bitwise_count over every hash), start-up load from a real SQLite file, grouping a whole library from scratch,
memory; and imagededup's PHash.find_duplicates when it can be imported here.

Data: "random" = uniform 64-bit hashes; "real_bits" = distinct pictures whose hash bits are set as often as in real
corpus pHashes (each bit drawn alone); "real_derived" = real corpus pHashes with 1-6 random bits flipped (dense
clusters around ~180 real pictures: every query has thousands of true neighbours, the index's worst case).
Queries are stored hashes with 0-6 bits flipped (and, for random, 100 unrelated hashes).
Usage: python -m bench.dedup [--quick] [--sizes 10000,100000,1000000] [--workers 2] [--seeds FILE]
The default run takes about 4 minutes on the shared 2-core machine (70 s of it grouping 1M from scratch); --quick
(10k and 100k) about 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CORPUS, emit, log
from daemon.config import DedupConfig
from daemon.dedup.grouping import Link, components
from daemon.dedup.index import HashIndex
from daemon.dedup.popcount import popcount
from daemon.store import Store
from daemon.store import dedup as dedup_store

RNG = np.random.default_rng(20261123)


def flips(count: int, most: int, least: int = 0) -> np.ndarray:
    """`count` masks of `least`..`most` random bits (a bit drawn twice flips once: "a few bits")."""
    masks = np.zeros(count, dtype=np.uint64)
    wanted = RNG.integers(least, most + 1, size=count)
    for round_ in range(most):
        bits = np.left_shift(np.uint64(1), RNG.integers(0, 64, size=count).astype(np.uint64))
        masks ^= np.where(wanted > round_, bits, np.uint64(0))
    return masks


def corpus_seeds(path: str | None) -> np.ndarray:
    """Real pHashes: from --seeds (a JSON list of hex strings), else computed from the corpus by the engine's code."""
    if path:
        return np.array([int(h, 16) for h in json.loads(Path(path).read_text())], dtype=np.uint64)
    import imagehash

    from daemon.pipeline import exif, imaging
    from daemon.pipeline.hashing import hash_input

    values = set()
    for folder in ("photos", "labelled", "duplicates", "orientation"):
        for source in sorted((CORPUS / folder).iterdir()):
            try:
                image = imaging.open_image(source.read_bytes(), source, 200_000_000)
                reduced = imaging.reduce(image, 384, exif.read_facts(image, 0)["orientation"])
            except Exception:  # noqa: BLE001 - broken files are simply not seeds
                continue
            if min(reduced.size) >= 32:
                values.add(int(str(imagehash.phash(hash_input(reduced))), 16))
    return np.array(sorted(values), dtype=np.uint64)


def dataset(kind: str, size: int, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stored hashes, query hashes) of one kind."""
    if kind == "real_bits":  # distinct pictures whose bits are as biased as real pHash bits (independently)
        stored = np.zeros(size, dtype=np.uint64)
        for bit in range(64):  # a column at a time: 8 bytes per hash, not a (size, 64) matrix
            share = float(((seeds >> np.uint64(bit)) & np.uint64(1)).mean())
            stored |= (RNG.random(size) < share).astype(np.uint64) << np.uint64(bit)
        picks = stored[RNG.integers(0, size, size=400)]
        return stored, np.concatenate([picks ^ flips(400, 6), seeds[RNG.integers(0, len(seeds), size=100)]])
    if kind == "random":
        stored = RNG.integers(0, 2**64, size=size, dtype=np.uint64)
        picks = stored[RNG.integers(0, size, size=400)]
        queries = np.concatenate([picks ^ flips(400, 6), RNG.integers(0, 2**64, size=100, dtype=np.uint64)])
        return stored, queries
    stored = seeds[RNG.integers(0, len(seeds), size=size)] ^ flips(size, 6, least=1)
    queries = seeds[RNG.integers(0, len(seeds), size=200)] ^ flips(200, 3)
    return stored, queries


def index_figures(kind: str, size: int, seeds: np.ndarray, radius: int, wide: int) -> dict[str, Any]:
    stored, queries = dataset(kind, size, seeds)
    ids = np.arange(size, dtype=np.int64)
    started = time.perf_counter()
    index = HashIndex(ids, stored)
    build = time.perf_counter() - started
    out: dict[str, Any] = {"build_s": round(build, 3), "index_mb": round(index.nbytes / 1e6, 1)}
    for label, r in (("", radius), (f"_r{wide}", wide)):
        answers, times = [], []
        for query in queries.tolist():
            started = time.perf_counter()
            answers.append(index.query_arrays(query, r)[0])  # what the dedup stage calls
            times.append(time.perf_counter() - started)
        brute_times, expected, found = [], 0, 0
        for query, answer in zip(queries.tolist(), answers, strict=True):
            started = time.perf_counter()
            hits = np.flatnonzero(popcount(stored ^ np.uint64(query)) <= r)
            brute_times.append(time.perf_counter() - started)
            expected += len(hits)
            found += len(np.intersect1d(hits, answer))  # ids are positions here
            assert len(answer) == len(np.unique(answer)) and np.isin(answer, hits).all(), "index answered wrongly"
        out[f"query_ms{label}"] = round(1000 * float(np.mean(times)), 4)
        out[f"query_ms_p50{label}"] = round(1000 * float(np.median(times)), 4)
        out[f"brute_ms{label}"] = round(1000 * float(np.mean(brute_times)), 4)
        out[f"speedup{label}"] = round(float(np.mean(brute_times)) / float(np.mean(times)), 1)
        out[f"recall{label}"] = round(found / expected, 6) if expected else 1.0
        out[f"results_per_query{label}"] = round(expected / len(queries), 1)
    return out


def write_library(path: Path, size: int) -> None:
    """A real engine database (migrations applied) with `size` files that each have a pHash and dHash."""
    store = Store(path)
    conn = store.conn
    phash = RNG.integers(-(2**63), 2**63 - 1, size=size, dtype=np.int64)
    dhash = RNG.integers(1, 2**63 - 1, size=size, dtype=np.int64)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO files (id, path, root, size, mtime_ns, inode, first_seen, last_seen)"
        " VALUES (?, ?, '/lib', 1000, 0, ?, 0, 0)",
        ((i + 1, f"/lib/{i:07d}.jpg", i) for i in range(size)),
    )
    conn.executemany(
        "INSERT INTO media (file_id, width, height, phash, dhash) VALUES (?, 4000, 3000, ?, ?)",
        ((i + 1, int(phash[i]), int(dhash[i])) for i in range(size)),
    )
    conn.execute("COMMIT")
    store.close()


def startup_figures(size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "image-engine.db"
        started = time.perf_counter()
        write_library(path, size)
        log(f"  library of {size} written in {time.perf_counter() - started:.1f} s")
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        started = time.perf_counter()
        ids, values = dedup_store.load_hashes(conn)
        loaded = time.perf_counter()
        index = HashIndex(ids, values)
        built = time.perf_counter()
        del index, ids, values
        tracemalloc.start()
        ids, values = dedup_store.load_hashes(conn)
        index = HashIndex(ids, values)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        conn.close()
        return {
            "hashes": len(ids),
            "sqlite_mb": round(path.stat().st_size / 1e6, 1),
            "load_s": round(loaded - started, 3),
            "build_s": round(built - loaded, 3),
            "total_s": round(built - started, 3),
            "index_mb": round(index.nbytes / 1e6, 1),
            "peak_mb_while_loading": round(peak / 1e6, 1),
        }


def from_scratch_figures(size: int, radius: int, dhash_radius: int, workers: int) -> dict[str, Any]:
    """A library where 10% of the photos are near-copies of others: find every pair, confirm by dHash, group."""
    phash = RNG.integers(0, 2**64, size=size, dtype=np.uint64)
    dhash = RNG.integers(0, 2**64, size=size, dtype=np.uint64)
    copies = size // 10
    originals = RNG.integers(0, size - copies, size=copies)
    phash[size - copies :] = phash[originals] ^ flips(copies, 6)
    dhash[size - copies :] = dhash[originals] ^ flips(copies, 6)
    ids = np.arange(size, dtype=np.int64)
    started = time.perf_counter()
    index = HashIndex(ids, phash)
    built = time.perf_counter()
    first, second, distances = index.pairs(radius, workers=workers)
    paired = time.perf_counter()
    confirmed = popcount(dhash[first] ^ dhash[second]) <= dhash_radius
    links = [
        Link(int(a), int(b), "near", int(d))
        for a, b, d in zip(first[confirmed], second[confirmed], distances[confirmed], strict=True)
    ]
    members = set(first[confirmed].tolist()) | set(second[confirmed].tolist())
    groups = [group for group in components(members, links, set()) if len(group) > 1]
    grouped = time.perf_counter()
    sample = phash[RNG.integers(0, size, size=200)]
    brute_started = time.perf_counter()
    for query in sample.tolist():
        np.flatnonzero(popcount(phash ^ np.uint64(query)) <= radius)
    brute_per_row = (time.perf_counter() - brute_started) / len(sample)
    return {
        "hashes": size,
        "near_copies_planted": copies,
        "workers": workers,
        "build_s": round(built - started, 2),
        "pairs_s": round(paired - built, 2),
        "pairs_within_radius": int(len(first)),
        "confirmed_by_dhash": int(confirmed.sum()),
        "group_s": round(grouped - paired, 2),
        "groups": len(groups),
        "total_s": round(grouped - started, 2),
        "brute_force_estimate_s": round(brute_per_row * size, 1),
    }


IMAGEDEDUP_NOTE = (
    "pip install -c requirements-pins.txt imagededup (0.3.3.post2) resolves torchvision 0.28.0, the newest that accepts "
    "the pinned torch 2.13.0; importing it fails (RuntimeError: operator torchvision::nms does not exist), and "
    "imagededup.methods and imagededup.utils import torchvision eagerly, so not even PHash can be imported. It was "
    "tried in a throwaway venv only; the project venv was not touched (torch stays 2.13.0)."
)


def imagededup_figures(radius: int) -> dict[str, Any]:
    try:
        from imagededup.methods import PHash  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - report exactly why, never install it here
        return {"available": False, "error": f"{type(exc).__name__}: {exc}", "why": IMAGEDEDUP_NOTE}
    folder = CORPUS / "duplicates"
    phasher = PHash()
    started = time.perf_counter()
    encodings = phasher.encode_images(image_dir=str(folder))
    encoded = time.perf_counter()
    found = phasher.find_duplicates(encoding_map=encodings, max_distance_threshold=radius)
    done = time.perf_counter()
    return {
        "available": True,
        "folder": str(folder),
        "files": len(encodings),
        "encode_s": round(encoded - started, 3),
        "find_s": round(done - encoded, 4),
        "pairs": sum(len(v) for v in found.values()) // 2,
        "groups": {k: v for k, v in found.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10k and 100k only, and a 100k library")
    parser.add_argument("--sizes", help="comma-separated index sizes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", help="JSON list of real pHashes (hex); default: computed from the corpus")
    parser.add_argument("--write-seeds", help="write the corpus pHashes to this file and stop")
    args = parser.parse_args()
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [10_000, 100_000] + ([] if args.quick else [1_000_000])
    )
    config = DedupConfig()
    radius, wide = config.phash_distance, config.embedding_phash_distance
    seeds = corpus_seeds(args.seeds)
    if args.write_seeds:
        Path(args.write_seeds).write_text(json.dumps([f"{int(v):016x}" for v in seeds]))
        return
    figures: dict[str, Any] = {
        "radius": radius,
        "wide_radius": wide,
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "real_seeds": len(seeds),
        "index": {"random": {}, "real_bits": {}, "real_derived": {}},
    }
    for kind in ("random", "real_bits", "real_derived"):
        for size in sizes:
            log(f"index {kind} {size}")
            figures["index"][kind][str(size)] = index_figures(kind, size, seeds, radius, wide)
    biggest = max(sizes)
    log(f"start-up load of {biggest} hashes from SQLite")
    figures["startup"] = startup_figures(biggest)
    log(f"grouping {biggest} from scratch on {args.workers} worker(s)")
    figures["from_scratch"] = from_scratch_figures(biggest, radius, config.dhash_distance, args.workers)
    figures["imagededup"] = imagededup_figures(radius)
    emit(figures)


if __name__ == "__main__":
    main()
