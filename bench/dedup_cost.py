"""Dedup stage cost per file: N distinct pictures (singletons) against N identical copies of one photo (one group).

Both sets go through the real probe and hash stages first; then only the dedup stage is timed (judge + record, as
its worker runs it), on a real SQLite file. A group should cost per file what a singleton costs.
Usage: python -m bench.dedup_cost [--files 200]   (about 30 s for 200 on the shared 2-core machine)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.common import emit, log
from daemon.store import queue
from daemon.store.queue import FileStat
from tests.dedup_support import InProcessEngine


def distinct_pictures(folder: Path, count: int) -> list[Path]:
    """`count` different 320x240 pictures: smooth random blobs, so no two are near-duplicates."""
    rng = np.random.default_rng(20261203)
    made = []
    for index in range(count):
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        picture = Image.fromarray(coarse).resize((320, 240), Image.Resampling.BICUBIC)
        target = folder / f"distinct_{index:04d}.jpg"
        picture.save(target, quality=90)
        made.append(target)
    return made


def identical_copies(folder: Path, count: int) -> list[Path]:
    """`count` byte-identical copies of one picture like those above (same size: only the grouping differs)."""
    (source,) = distinct_pictures(folder, 1)
    made = [source]
    for index in range(1, count):
        target = folder / f"copy_{index:04d}.jpg"
        shutil.copy2(source, target)
        made.append(target)
    return made


def dedup_seconds(folder: Path, paths: list[Path]) -> dict[str, Any]:
    engine = InProcessEngine(folder)
    try:
        for path in paths:  # as the watcher queues them
            stat = os.stat(path)
            queue.enqueue(
                engine.conn, str(path), str(engine.drop), FileStat(stat.st_size, stat.st_mtime_ns, stat.st_ino), "probe"
            )
        first_stages = [w for w in engine.workers if "dedup" not in w.stage_names]
        dedup_worker = next(w for w in engine.workers if "dedup" in w.stage_names)
        busy = True
        while busy:
            busy = any(worker.tick() for worker in first_stages)
        times = []
        while True:
            started = time.perf_counter()
            if not dedup_worker.tick():
                break
            times.append(time.perf_counter() - started)
        assert engine.failures() == [], engine.failures()
        groups = engine.conn.execute("SELECT COUNT(*) FROM dedup_groups").fetchone()[0]
        tenth = max(1, len(times) // 10)
        return {
            "files": len(times),
            "groups": groups,
            "ms_per_file": round(1000 * sum(times) / len(times), 2),
            "ms_first_10pct": round(1000 * sum(times[:tenth]) / tenth, 2),
            "ms_last_10pct": round(1000 * sum(times[-tenth:]) / tenth, 2),
        }
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as work:
        for label, make in (("singletons", distinct_pictures), ("one_group", identical_copies)):
            folder = Path(work) / label
            (folder / "drop").mkdir(parents=True)
            log(f"{label}: {args.files} files")
            figures[label] = dedup_seconds(folder, make(folder / "drop", args.files))
    figures["group_vs_singleton"] = round(figures["one_group"]["ms_per_file"] / figures["singletons"]["ms_per_file"], 2)
    emit(figures)


if __name__ == "__main__":
    main()
