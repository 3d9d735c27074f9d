"""Ingest throughput (probe + hash) in images/s per core on 12 MP and 2 MP JPEGs made from corpus photos.

Compares, in one run on the same files and taking turns (ABC ABC ..., medians; wall and CPU time): the naive way
(full decode, imagehash on the full image), the floor (a bare decode at exactly the scale the engine asks for: the
draft box by aspect ratio, 1/8 for 12 MP and 1/4 for 2 MP, draft mode; checked against the engine's reduce()), the
engine's own stage code, and 2 workers (processes, threads). `ours_vs_floor` is the share of the bare decode's rate
the whole probe + hash keeps.
Usage: python -m bench.ingest [--count 24] [--rounds 5]
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
from bench.timing import interleaved, ratio
from daemon.pipeline import imaging
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
    """The decode the engine itself does (draft box by aspect ratio, so DCT scaling goes as far as it can) and no more."""
    with Image.open(path) as image:
        image.draft("RGB", draft_box(image.size, REDUCED))
        image.load()


def decode_scale(path: Path) -> str:
    """The floor's DCT scale, after checking that it decodes to the very size the engine's reduce() gives (before
    orientation): a floor at another scale would make the ratio meaningless, as an earlier 1/4-vs-1/8 one did."""
    with Image.open(path) as image:
        full = image.size
        image.draft("RGB", draft_box(full, REDUCED))
        image.load()
        floor_size = image.size
    with Image.open(path) as image:
        engine_size = imaging.reduce(image, REDUCED, None).size
    if floor_size != engine_size:
        raise SystemExit(
            f"{path.name}: the floor decodes to {floor_size}, the engine to {engine_size}: not the same work"
        )
    return f"1/{full[0] // floor_size[0]}"


def engine_stages(cache: Path) -> tuple[ProbeStage, HashStage]:
    return ProbeStage(REDUCED, 200_000_000, ReducedCache(cache)), HashStage()


def ours(path: Path, index: int, stages: tuple[ProbeStage, HashStage]) -> None:
    probe, hashing = stages
    job = Job(index, index, str(path), str(path.parent), "", "probe", 0, 1, "bench")
    item = WorkItem(job=job, results=lambda stage: None, reduced_loader=lambda item: None)  # type: ignore[arg-type]
    probe.run(item)
    hashing.run(item)
    probe.cache.drop(index)  # the worker drops the in-flight copy when the job finishes


def _ours_worker(args: tuple[list[str], str, int]) -> float:
    """One process's share; returns its CPU seconds."""
    paths, cache, first_id = args
    started = time.process_time()
    stages = engine_stages(Path(cache))
    for index, path in enumerate(paths, first_id):
        ours(Path(path), index, stages)
    return time.process_time() - started


def passes(paths: list[Path], cache: Path, pool: multiprocessing.pool.Pool, threads: ThreadPoolExecutor) -> dict:
    """One pass of each way over `paths` (naive over a few: it is slow), as (work, images) for `interleaved`."""
    stages = engine_stages(cache)
    counter = iter(range(10**9))
    halves = [[str(p) for p in paths[0::2]], [str(p) for p in paths[1::2]]]
    naive_paths = paths[: max(2, len(paths) // 6)]

    def two_processes() -> float:
        base = 10**6 * (2 + next(counter))
        return sum(pool.map(_ours_worker, [(half, str(cache), base + i * 10**5) for i, half in enumerate(halves)]))

    def two_threads() -> None:
        list(threads.map(lambda pair: ours(pair[1], pair[0], stages), zip(counter, paths, strict=False)))

    return {
        "naive": (lambda: [naive(p) for p in naive_paths], len(naive_paths)),
        "floor": (lambda: [floor(p) for p in paths], len(paths)),
        "ours": (lambda: [ours(p, next(counter), stages) for p in paths], len(paths)),
        "ours_2_processes": (two_processes, len(paths)),
        "ours_2_threads": (two_threads, len(paths)),
    }


def enough_for(seconds: float, paths: list[Path], per_second: float) -> list[Path]:
    """`paths` repeated so that one pass at `per_second` takes about `seconds`: IPC and start-up amortised."""
    return paths * max(1, math.ceil(seconds * per_second / len(paths)))


def measure(paths: list[Path], cache: Path, rounds: int) -> dict[str, object]:
    probe = {"floor": (lambda: [floor(p) for p in paths], len(paths))}
    per_second = interleaved(probe, 1)["floor"]["per_s"]
    batch = enough_for(1.0, paths, per_second)
    with multiprocessing.get_context("spawn").Pool(2) as pool, ThreadPoolExecutor(2) as threads:
        rates = interleaved(passes(batch, cache, pool, threads), rounds)
    results: dict[str, object] = {"decode_scale": decode_scale(paths[0]), **rates}
    results["ours_vs_floor"] = ratio(rates["ours"], rates["floor"])
    results["ours_vs_naive"] = ratio(rates["ours"], rates["naive"])
    results["scaling_2_processes"] = ratio(rates["ours_2_processes"], rates["ours"])["wall"]
    results["scaling_2_threads"] = ratio(rates["ours_2_threads"], rates["ours"])["wall"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, object] = {"reduced_size": REDUCED, "cpu_count": multiprocessing.cpu_count()}
    figures["method"] = "ways interleaved per round, median of rounds; per_cpu_s = images per CPU second"
    with tempfile.TemporaryDirectory() as tmp:
        for label, size in (("12MP", (4000, 3000)), ("2MP", (1632, 1224))):
            log(f"making {args.count} {label} JPEGs")
            paths = make_jpegs(Path(tmp) / label, args.count, size)
            figures[label] = measure(paths, Path(tmp) / "cache", args.rounds)
            log(f"{label}: {figures[label]}")
    emit(figures)


if __name__ == "__main__":
    main()
