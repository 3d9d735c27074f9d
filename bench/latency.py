"""Latency from file close to job `done` for single dropped photos: p50 and p95 over N drops (after one warm-up).

Two engines: probe + hash only, and every stage with the default config (CPU tagging, dedup, filing, metadata).

Runs the real service as a subprocess; each photo is written into the drop folder and closed, one at a time.
Usage: python -m bench.latency [--drops 50]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, emit, log, make_jpegs

SPINE_ONLY = (
    "[tagging]\nenabled = false\n[dedup]\nenabled = false\n[rename]\nenabled = false\n[metadata]\nenabled = false\n"
)


def measure(folder: Path, photos: list[Path], extra: str) -> dict[str, float]:
    """Drop the photos one at a time into a fresh engine; seconds from close to `done` for each (after a warm-up)."""
    folder.mkdir(parents=True)
    config = folder / "config.toml"
    config.write_text(
        f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{folder / "drop"}"\n'
        f'[library]\nroot = "{folder / "lib"}"\n{extra}'
    )
    engine = subprocess.Popen(
        [sys.executable, "-m", "daemon", "--config", str(config), "run"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    latencies = []
    try:
        while not (folder / "data" / "control.json").exists():
            time.sleep(0.1)
        conn = sqlite3.connect(folder / "data" / "image-engine.db", timeout=30)
        # Filed photos change path, so a drop is found by count: each is the only one in flight.
        for index, photo in enumerate(photos):
            shutil.copyfile(photo, folder / "drop" / f"drop_{index}.jpg")
            closed = time.time()
            while True:
                finished, latest = conn.execute(
                    "SELECT COUNT(*), MAX(finished_at) FROM jobs WHERE state IN ('done', 'failed')"
                ).fetchone()
                if finished > index:
                    latencies.append(latest - closed)
                    break
                time.sleep(0.005)
        conn.close()
    finally:
        engine.terminate()
        engine.wait(timeout=30)
    warm = sorted(latencies[1:])
    return {
        "first_s": round(latencies[0], 3),
        "p50_s": round(statistics.median(warm), 3),
        "p95_s": round(warm[int(0.95 * (len(warm) - 1))], 3),
        "max_s": round(warm[-1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drops", type=int, default=50)
    args = parser.parse_args()
    figures: dict[str, object] = {"drops": args.drops, "photo": "2 MP JPEG", "goal_p95_s": 0.5}
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_jpegs(Path(tmp) / "src", args.drops + 1, (1632, 1224))
        for name, extra in (("probe_hash", SPINE_ONLY), ("all_stages_default_config", "")):
            log(f"{name}: {args.drops + 1} drops")
            figures[name] = measure(Path(tmp) / name, photos, extra)
            log(f"{name}: {figures[name]}")
    emit(figures)


if __name__ == "__main__":
    main()
