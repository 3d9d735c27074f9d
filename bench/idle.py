"""Idle service cost: CPU % over a window and RSS, with no model loaded.

Starts the real service on an empty drop folder, lets it settle, then samples its process with psutil.
Usage: python -m bench.idle [--seconds 60]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import REPO, emit, log


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "config.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{folder / "drop"}"\n'
            f'[library]\nroot = "{folder / "lib"}"\n'
        )
        started = time.perf_counter()
        engine = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(config), "run"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not (folder / "data" / "control.json").exists():
                time.sleep(0.05)
            ready = time.perf_counter() - started
            time.sleep(5)
            process = psutil.Process(engine.pid)
            before = process.cpu_times()
            window_start = time.perf_counter()
            time.sleep(args.seconds)
            after = process.cpu_times()
            window = time.perf_counter() - window_start
            cpu = (after.user + after.system - before.user - before.system) / window * 100
            rss = process.memory_info().rss
            maps = Path(f"/proc/{engine.pid}/maps").read_text() if Path(f"/proc/{engine.pid}/maps").exists() else ""
        finally:
            engine.terminate()
            engine.wait(timeout=30)
    figures = {
        "window_s": round(window, 1),
        "cpu_percent": round(cpu, 3),
        "rss_mb": round(rss / 2**20, 1),
        "start_to_ready_s": round(ready, 2),
        "torch_loaded": "libtorch" in maps,
        "onnxruntime_loaded": "onnxruntime" in maps,
        "goal": {"cpu_percent": 0.5, "rss_mb": 120},
    }
    log(str(figures))
    emit(figures)


if __name__ == "__main__":
    main()
