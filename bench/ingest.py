"""Ingest throughput (probe + hash) in images/s per core on 12 MP and 2 MP JPEGs made from corpus photos.

Compares, in one run on the same files: the naive way (full decode, imagehash on the full image), the floor
(a bare reduced-size decode with draft((384, 384))), the same bare decode the engine asks for (a draft box by
aspect ratio), the engine's own stage code, and 2 workers (processes, threads).
Usage: python -m bench.ingest [--count 24] [--seconds-cap 20]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imagehash
from PIL import Image

from bench.common import emit, log, make_jpegs
from daemon.pipeline.base import WorkItem
from daemon.pipeline.hashing import HashStage
from daemon.pipeline.imaging import draft_box
from daemon.pipeline.probe import ProbeStage
from daemon.pipeline.reduced_cache import ReducedCache
from daemon.store.queue import Job

REDUCED = 384


def naive(path: Path) -> None:
    data = path.read_bytes()
    hashlib.sha256(data).hexdigest()
    with Image.open(path) as image:
        full = image.convert("RGB")
        imagehash.phash(full)
        imagehash.dhash(full)


def floor(path: Path) -> None:
    with Image.open(path) as image:
        image.draft("RGB", (REDUCED, REDUCED))
        image.load()


def same_decode(path: Path) -> None:
    """The decode the engine itself does (draft box by aspect ratio, so DCT scaling goes as far as it can)."""
    with Image.open(path) as image:
        image.draft("RGB", draft_box(image.size, REDUCED))
        image.load()


def engine_stages(cache: Path) -> tuple[ProbeStage, HashStage]:
    return ProbeStage(REDUCED, 200_000_000, ReducedCache(cache)), HashStage()


def ours(path: Path, index: int, stages: tuple[ProbeStage, HashStage]) -> None:
    probe, hashing = stages
    job = Job(index, index, str(path), str(path.parent), "", "probe", 0, 1, "bench")
    item = WorkItem(job=job, results=lambda stage: None, reduced_loader=lambda item: None)  # type: ignore[arg-type]
    probe.run(item)
    hashing.run(item)
    probe.cache.drop(index)  # the worker drops the in-flight copy when the job finishes


def rate(function, paths: list[Path], rounds: int = 2) -> float:
    function(paths[0])  # warm up
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for path in paths:
            function(path)
        best = max(best, len(paths) / (time.perf_counter() - started))
    return round(best, 2)


def _ours_worker(args: tuple[list[str], str, int]) -> int:
    paths, cache, first_id = args
    stages = engine_stages(Path(cache))
    for index, path in enumerate(paths, first_id):
        ours(Path(path), index, stages)
    return len(paths)


def two_processes(paths: list[Path], cache: Path, rounds: int = 2) -> float:
    """Best of `rounds`, like the one-core rate; each round gives each process about a second of work."""
    halves = [[str(p) for p in paths[0::2]], [str(p) for p in paths[1::2]]]
    best = 0.0
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_ours_worker, [(halves[0][:1], str(cache), 0), (halves[1][:1], str(cache), 10**6)])  # warm up
        for round_ in range(rounds):
            started = time.perf_counter()
            pool.map(_ours_worker, [(half, str(cache), 10**6 * (2 + 2 * round_ + i)) for i, half in enumerate(halves)])
            best = max(best, len(paths) / (time.perf_counter() - started))
    return round(best, 2)


def two_threads(paths: list[Path], cache: Path, rounds: int = 2) -> float:
    stages = engine_stages(cache)
    best = 0.0
    with ThreadPoolExecutor(2) as pool:
        for round_ in range(rounds):
            started = time.perf_counter()
            list(pool.map(lambda pair: ours(pair[1], pair[0], stages), enumerate(paths, 10**6 * (round_ + 1))))
            best = max(best, len(paths) / (time.perf_counter() - started))
    return round(best, 2)


def enough_for(seconds: float, paths: list[Path], per_second: float) -> list[Path]:
    """`paths` repeated so that two workers at the one-core rate take about `seconds`: IPC and start-up amortised."""
    return paths * max(2, math.ceil(2 * seconds * per_second / len(paths)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=24)
    args = parser.parse_args()
    figures: dict[str, object] = {"reduced_size": REDUCED, "cpu_count": multiprocessing.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for label, size in (("12MP", (4000, 3000)), ("2MP", (1632, 1224))):
            log(f"making {args.count} {label} JPEGs")
            paths = make_jpegs(Path(tmp) / label, args.count, size)
            stages = engine_stages(cache)
            counter = iter(range(10**9))
            results = {
                "naive_per_core": rate(naive, paths[: max(4, args.count // 3)]),
                "floor_per_core": rate(floor, paths),
                "same_decode_per_core": rate(same_decode, paths),
                "ours_per_core": rate(lambda p, c=counter, s=stages: ours(p, next(c), s), paths),
            }
            batch = enough_for(1.0, paths, results["ours_per_core"])
            results["ours_2_processes"] = two_processes(batch, cache)
            results["ours_2_threads"] = two_threads(batch, cache)
            results["ours_vs_floor"] = round(results["ours_per_core"] / results["floor_per_core"], 3)
            results["ours_vs_same_decode"] = round(results["ours_per_core"] / results["same_decode_per_core"], 3)
            results["ours_vs_naive"] = round(results["ours_per_core"] / results["naive_per_core"], 2)
            results["scaling_2_processes"] = round(results["ours_2_processes"] / results["ours_per_core"], 2)
            results["scaling_2_threads"] = round(results["ours_2_threads"] / results["ours_per_core"], 2)
            figures[label] = results
            log(f"{label}: {results}")
    emit(figures)


if __name__ == "__main__":
    main()
