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


def status(data: Path, route: str = "/status") -> dict:
    endpoint = json.loads((data / "control.json").read_text())
    token = (data / "token").read_text().strip()
    request = urllib.request.Request(f"http://127.0.0.1:{endpoint['port']}/v1{route}")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def polling_snapshot_rss(root: Path) -> float:
    code = (
        "import psutil,sys;from watchdog.utils.dirsnapshot import DirectorySnapshot;"
        f"s=DirectorySnapshot({str(root)!r});print(psutil.Process().memory_info().rss)"
    )
    return int(subprocess.check_output([sys.executable, "-c", code])) / 2**20


def start_engine(config: Path, data: Path) -> subprocess.Popen:
    (data / "control.json").unlink(missing_ok=True)
    engine = subprocess.Popen(
        [sys.executable, "-m", "daemon", "--config", str(config), "run"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (data / "control.json").exists():
        time.sleep(0.2)
    return engine


def stop_engine(engine: subprocess.Popen) -> None:
    engine.terminate()
    engine.wait(timeout=60)


def run_until_done(config: Path, data: Path, total: int) -> tuple[list[dict], list[dict]]:
    """Start on a tree nobody has seen; sample RSS until every file is done or failed."""
    started = time.perf_counter()
    engine = start_engine(config, data)
    samples = []
    try:
        process = psutil.Process(engine.pid)
        while True:
            current = status(data)
            jobs = current["jobs"]
            samples.append(
                {
                    "t": round(time.perf_counter() - started, 1),
                    "rss_mb": round(process.memory_info().rss / 2**20, 1),
                    "files": current["files"],
                    "done": jobs["done"],
                }
            )
            if jobs["done"] + jobs["failed"] >= total:
                return samples, current["watching"]
            time.sleep(2)
    finally:
        stop_engine(engine)


def restart_over_unchanged(config: Path, data: Path) -> dict:
    """Start again over the same tree: the start-up reconcile must find nothing to do, quickly."""
    started = time.perf_counter()
    engine = start_engine(config, data)
    try:
        process = psutil.Process(engine.pid)
        peak = 0.0
        while (scan := status(data, "/scan?id=1"))["state"] == "running":
            peak = max(peak, process.memory_info().rss / 2**20)
            time.sleep(0.5)
        current = status(data)
        return {
            "start_to_scan_done_s": round(time.perf_counter() - started, 1),
            "seen": scan["done"],
            "queued_again": scan["submitted"],
            "jobs_queued": current["jobs"]["queued"],
            "peak_rss_mb": round(max(peak, process.memory_info().rss / 2**20), 1),
        }
    finally:
        stop_engine(engine)


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
        samples, watching = run_until_done(config, folder / "data", args.folders * args.per_folder)
        restart = restart_over_unchanged(config, folder / "data")
        naive = polling_snapshot_rss(drop)
    figures = {
        "files": args.folders * args.per_folder,
        "folders": args.folders,
        "watcher": watching,
        "processed_s": samples[-1]["t"],
        "peak_rss_mb": max(s["rss_mb"] for s in samples),
        "final_rss_mb": samples[-1]["rss_mb"],
        "naive_polling_snapshot_process_rss_mb": round(naive, 1),
        "restart_over_unchanged": restart,
        "rss_over_time": samples[:: max(1, len(samples) // 15)],
    }
    log(json.dumps(figures))
    emit(figures)


if __name__ == "__main__":
    main()
