"""Watching a large tree: 100,000 files in 5,000 folders, engine RSS while it watches and reconciles.

Compares with a naive watcher that keeps one polling snapshot of every file in memory (watchdog's
PollingObserver over the same tree), measured in the same run.
Usage: python -m bench.watch_scale [--folders 5000] [--per-folder 20]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
from PIL import Image

from bench.common import REPO, emit, log


def tiny_jpeg(number: int) -> bytes:
    """A distinct tiny photo per number (identical files would all be one duplicate group, a different benchmark)."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (number % 256, number // 256 % 256, number // 65536 % 256)).save(buffer, "JPEG")
    return buffer.getvalue()


def status(data: Path) -> dict:
    endpoint = json.loads((data / "control.json").read_text())
    token = (data / "token").read_text().strip()
    request = urllib.request.Request(f"http://127.0.0.1:{endpoint['port']}/v1/status")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def polling_snapshot_rss(root: Path) -> float:
    code = (
        "import psutil,sys;from watchdog.utils.dirsnapshot import DirectorySnapshot;"
        f"s=DirectorySnapshot({str(root)!r});print(psutil.Process().memory_info().rss)"
    )
    return int(subprocess.check_output([sys.executable, "-c", code])) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folders", type=int, default=5000)
    parser.add_argument("--per-folder", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        drop = folder / "drop"
        log(f"making {args.folders * args.per_folder} files in {args.folders} folders")
        for index in range(args.folders):
            sub = drop / f"{index // 100:03d}" / f"{index:05d}"
            sub.mkdir(parents=True)
            for number in range(args.per_folder):
                (sub / f"IMG_{number:04d}.jpg").write_bytes(tiny_jpeg(index * args.per_folder + number))
        config = folder / "config.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{drop}"\n[library]\nroot = "{folder / "lib"}"\n'
            # Watching and the light stages are measured here: AI tagging, filing and metadata have benches of their own.
            "[tagging]\nenabled = false\n[rename]\nenabled = false\n[metadata]\nenabled = false\n"
        )
        started = time.perf_counter()
        engine = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(config), "run"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        samples = []
        try:
            process = psutil.Process(engine.pid)
            while not (folder / "data" / "control.json").exists():
                time.sleep(0.2)
            total = args.folders * args.per_folder
            while True:
                current = status(folder / "data")
                jobs = current["jobs"]
                rss = process.memory_info().rss / 2**20
                samples.append(
                    {
                        "t": round(time.perf_counter() - started, 1),
                        "rss_mb": round(rss, 1),
                        "files": current["files"],
                        "done": jobs["done"],
                    }
                )
                if jobs["done"] + jobs["failed"] >= total:
                    break
                time.sleep(2)
            watching = current["watching"]
        finally:
            engine.terminate()
            engine.wait(timeout=60)
        naive = polling_snapshot_rss(drop)
    figures = {
        "files": args.folders * args.per_folder,
        "folders": args.folders,
        "watcher": watching,
        "processed_s": samples[-1]["t"],
        "peak_rss_mb": max(s["rss_mb"] for s in samples),
        "final_rss_mb": samples[-1]["rss_mb"],
        "naive_polling_snapshot_process_rss_mb": round(naive, 1),
        "rss_over_time": samples[:: max(1, len(samples) // 15)],
    }
    log(json.dumps(figures))
    emit(figures)


if __name__ == "__main__":
    main()
