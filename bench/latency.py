"""Latency from file close to job `done` for single dropped photos: p50 and p95 over N drops.

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drops", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos = make_jpegs(folder / "src", args.drops, (1632, 1224))
        config = folder / "config.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{folder / "drop"}"\n'
            f'[library]\nroot = "{folder / "lib"}"\n'
        )
        engine = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(config), "run"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            db = folder / "data" / "image-engine.db"
            while not (folder / "data" / "control.json").exists():
                time.sleep(0.1)
            conn = sqlite3.connect(db, timeout=30)
            latencies = []
            for index, photo in enumerate(photos):
                target = folder / "drop" / f"drop_{index}.jpg"
                shutil.copyfile(photo, target)
                closed = time.time()
                while True:
                    row = conn.execute(
                        "SELECT jobs.finished_at FROM jobs JOIN files ON files.id = jobs.file_id"
                        " WHERE files.path = ? AND jobs.state = 'done'",
                        (str(target),),
                    ).fetchone()
                    if row:
                        latencies.append(row[0] - closed)
                        break
                    time.sleep(0.005)
            conn.close()
        finally:
            engine.terminate()
            engine.wait(timeout=30)
    latencies.sort()
    figures = {
        "drops": len(latencies),
        "photo": "2 MP JPEG",
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "max_s": round(latencies[-1], 3),
        "goal_p95_s": 0.5,
    }
    log(str(figures))
    emit(figures)


if __name__ == "__main__":
    main()
