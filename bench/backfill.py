"""Backfill throughput end to end: photos/s from file on disk to recorded (probe, hash, tag, dedup), and with the
metadata write, for 2 MP and 12 MP JPEGs, at each worker count, CPU and (when torch sees one) the GPU.

The real engine runs as a subprocess; after one warm-up photo (model loaded), the set is moved into its watched
folder at once and the clock runs until the last job is done. Beside photos/s: the engine's CPU seconds (its own and
exiftool's), per-stage ms from `stage_runs`, and the busiest threads. Compared with the naive per-image script
(full decode, imagehash and the model on the full image, one SQLite commit and one exiftool run per photo).
Usage: python -m bench.backfill [--count 96] [--sizes 2MP,12MP] [--workers 1,2] [--devices cpu,cuda] [--quick]
`measure(paths, workers, executor)` is the reusable part: other executors add their config text to EXECUTORS.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from PIL import Image

from bench.common import REPO, corpus_photos, emit, log

SIZES = {"2MP": (1632, 1224), "12MP": (4000, 3000)}
# Config text per executor; "local" is the engine's own worker threads.
EXECUTORS: dict[str, str] = {"local": ""}
# Filing is not part of a backfill figure; faces (the people extra, on when installed) is its own feature and bench.
STAGES_OFF = "[rename]\nenabled = false\n[people]\nenabled = false\n"


def distinct_jpegs(folder: Path, count: int, size: tuple[int, int], workers: int = 1) -> list[Path]:
    """`count` different JPEGs of `size` made from corpus photos (see _make_one), EXIF kept; on `workers` processes."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = corpus_photos()
    jobs = [
        (str(sources[i % len(sources)]), str(folder / f"{i:04d}_{size[0]}x{size[1]}.jpg"), i, len(sources), size)
        for i in range(count)
    ]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:  # CUDA may be up
            list(pool.map(_make_one, jobs, chunksize=4))
    else:
        for job in jobs:
            _make_one(job)
    return [Path(job[1]) for job in jobs]


WINDOWS = ((0.0, 0.0), (0.4, 0.4), (0.4, 0.0), (0.0, 0.4), (0.2, 0.2), (0.2, 0.0), (0.0, 0.2), (0.4, 0.2))


def _make_one(job: tuple[str, str, int, int, tuple[int, int]]) -> None:
    """A 60% window of the source, a different one per reuse of the source (then mirrored): a different photo to
    pHash, so the set holds no near-duplicates (real libraries have few; the dedup bench measures them)."""
    source, target, index, sources, size = job
    if Path(target).exists():
        return
    with Image.open(source) as image:
        exif = image.info.get("exif", b"")
        rgb = image.convert("RGB")
    variant = index // sources
    left, top = WINDOWS[variant % len(WINDOWS)]
    box = (int(left * rgb.width), int(top * rgb.height), int((left + 0.6) * rgb.width), int((top + 0.6) * rgb.height))
    crop = rgb.crop(box)
    if (variant // len(WINDOWS)) % 2:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    crop.resize(size, Image.Resampling.BILINEAR).save(target, quality=90, exif=exif)


def engine_config(folder: Path, workers: int, device: str, metadata: bool, executor: str, tagging: bool) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{folder / "watch"}"\n'
        f'[library]\nroot = "{folder / "library"}"\nwatch = false\n'
        f"[engine]\nworkers = {workers}\nsettle_seconds = 0.2\n"
        f'[tagging]\nenabled = {"true" if tagging else "false"}\ndevice = "{device}"\nbatch_size = {256 if device == "cuda" else 32}\n'
        f"[metadata]\nenabled = {'true' if metadata else 'false'}\n{STAGES_OFF}{EXECUTORS[executor]}"
    )
    return config


def finished(conn: sqlite3.Connection) -> tuple[int, int]:
    done, failed = conn.execute(
        "SELECT SUM(state = 'done'), SUM(state = 'failed') FROM jobs WHERE state IN ('done', 'failed')"
    ).fetchone()
    return done or 0, failed or 0


def wait_for(conn: sqlite3.Connection, total: int, engine: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sum(finished(conn)) < total:
        if engine.poll() is not None:
            raise RuntimeError(f"the engine exited with {engine.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(finished(conn))} of {total} jobs finished in {timeout:.0f} s")
        time.sleep(0.05)


def cpu_seconds(process: psutil.Process) -> tuple[float, float, dict[int, float]]:
    """(engine CPU s, children CPU s (exiftool), CPU s per thread id)."""
    times = process.cpu_times()
    children = sum(sum(child.cpu_times()[:2]) for child in process.children(recursive=True))
    threads = {thread.id: thread.user_time + thread.system_time for thread in process.threads()}
    return times.user + times.system, times.children_user + times.children_system + children, threads


def measure(
    paths: list[Path],
    workers: int,
    executor: str = "local",
    device: str = "cpu",
    metadata: bool = False,
    tagging: bool = True,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """One engine over `paths` (copied; the first is the warm-up): photos/s, CPU and where the time went.
    Stage ms are wall time of the stage's own work (a batch's time shared by its photos), claims and records excluded."""
    with tempfile.TemporaryDirectory(prefix="backfill-") as tmp:
        folder = Path(tmp)
        staging, watch = folder / "staging", folder / "watch"
        staging.mkdir()
        watch.mkdir()
        for path in paths[1:]:
            shutil.copyfile(path, staging / path.name)
        shutil.copyfile(paths[0], watch / f"warmup_{paths[0].name}")
        config = engine_config(folder, workers, device, metadata, executor, tagging)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "HF_HUB_OFFLINE": "1",
        }
        engine = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(config), "run"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not (folder / "data" / "control.json").exists():
                if engine.poll() is not None:
                    raise RuntimeError(f"the engine exited with {engine.returncode} before it was ready")
                time.sleep(0.05)
            conn = sqlite3.connect(folder / "data" / "image-engine.db", timeout=30)
            wait_for(conn, 1, engine, 300)  # the warm-up photo: model loaded, exiftool started
            process = psutil.Process(engine.pid)
            cpu_before, children_before, threads_before = cpu_seconds(process)
            started = time.time()
            for path in sorted(staging.iterdir()):
                path.rename(watch / path.name)
            timed_out = False
            try:
                wait_for(conn, len(paths), engine, timeout_s or 60 + 5 * len(paths))
            except TimeoutError:
                timed_out = True  # the figure is then the rate of the photos finished in the time there was
            wall = max(time.time(), started) - started
            last = None if timed_out else conn.execute("SELECT MAX(finished_at) FROM jobs").fetchone()[0]
            first_queued, last_queued = conn.execute(
                "SELECT MIN(created_at), MAX(created_at) FROM jobs WHERE created_at >= ?", (started,)
            ).fetchone()
            cpu_after, children_after, threads_after = cpu_seconds(process)
            stages = stage_ms(conn, started)
            done, failed = finished(conn)
            conn.close()
        finally:
            engine.terminate()
            engine.wait(timeout=60)
    photos = len(paths) - 1 if not timed_out else max(1, done + failed - 1)
    wall = max(last - started, 1e-6) if last else wall
    threads = sorted(
        (threads_after[tid] - threads_before.get(tid, 0.0) for tid in threads_after),
        reverse=True,
    )
    engine_cpu = cpu_after - cpu_before
    return {
        "photos": photos,
        "timed_out": timed_out,
        "done": done - 1,
        "failed": failed,
        "photos_per_s": round(photos / wall, 2),
        "wall_s": round(wall, 2),
        # intake (watcher, settle check, queue) vs the stages: the last photo queued, and the rate once queued
        "all_queued_after_s": round((last_queued or started) - started, 2),
        "photos_per_s_from_first_queued": round(photos / max(wall - ((first_queued or started) - started), 1e-6), 2),
        "engine_cpu_s": round(engine_cpu, 2),
        "exiftool_cpu_s": round(children_after - children_before, 2),
        "cpu_ms_per_photo": round(1000 * (engine_cpu + children_after - children_before) / photos, 1),
        "cores_busy": round((engine_cpu + children_after - children_before) / wall, 2),
        "busiest_threads_cpu_s": [round(seconds, 2) for seconds in threads[:6]],
        "engine_cpu_ms_per_photo": round(1000 * engine_cpu / photos, 1),
        "stage_wall_ms_per_photo": stages,
        "load_avg_1min": round(os.getloadavg()[0], 1),
    }


def stage_ms(conn: sqlite3.Connection, since: float) -> dict[str, float]:
    """Mean ms of each stage's successful runs since `since` (the stage's own work: no claim, no record)."""
    rows = conn.execute(
        "SELECT stage, AVG(ms) FROM stage_runs WHERE outcome = 'ok' AND at >= ? GROUP BY stage", (since,)
    ).fetchall()
    return {stage: round(ms, 2) for stage, ms in rows}


def naive(paths: list[Path], folder: Path, metadata: bool, device: str = "cpu") -> dict[str, Any]:
    """The per-image script: full decode, imagehash and EfficientNet-Lite0 on the full image, a dict for exact
    duplicates, one SQLite commit per photo, one exiftool process per photo for the keywords."""
    import imagehash
    import torch

    from bench.tagging import IMAGENET, efficientnet, naive_preprocess

    with contextlib.redirect_stdout(sys.stderr):  # the package prints a line; stdout is the JSON
        model = efficientnet(device)
    conn = sqlite3.connect(folder / "naive.db")
    conn.execute("CREATE TABLE IF NOT EXISTS photos (path TEXT, sha256 TEXT, phash TEXT, dhash TEXT, label INTEGER)")
    copies = []
    for path in paths:
        copies.append(folder / f"naive_{path.name}")
        shutil.copyfile(path, copies[-1])
    seen: dict[str, str] = {}
    started, cpu = time.perf_counter(), time.process_time()
    children = sum(os.times()[2:4])
    for path in copies:
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        seen.setdefault(sha256, str(path))
        with Image.open(path) as image:
            full = image.convert("RGB")
        pixels = naive_preprocess(full, 224, IMAGENET.mean, IMAGENET.std)
        with torch.no_grad():
            label = int(model(torch.from_numpy(pixels).to(device)).argmax())
        row = (str(path), sha256, str(imagehash.phash(full)), str(imagehash.dhash(full)), label)
        conn.execute("INSERT INTO photos VALUES (?, ?, ?, ?, ?)", row)
        conn.commit()
        if metadata:
            subprocess.run(
                ["exiftool", "-q", "-overwrite_original", f"-XMP-dc:Subject=label{label}", str(path)], check=True
            )
    wall = time.perf_counter() - started
    total_cpu = time.process_time() - cpu + sum(os.times()[2:4]) - children
    conn.close()
    return {
        "photos": len(paths),
        "photos_per_s": round(len(paths) / wall, 2),
        "cpu_ms_per_photo": round(1000 * total_cpu / len(paths), 1),
    }


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=96, help="photos per set (plus one warm-up)")
    parser.add_argument("--sizes", default="2MP,12MP")
    parser.add_argument("--workers", default="", help="comma-separated; default 1, 2, 4, ... up to the core count")
    parser.add_argument("--devices", default="", help="cpu,cuda; default cpu, and cuda when torch sees a GPU")
    parser.add_argument("--naive-count", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="the probe+hash+tag+dedup way only (no metadata runs)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    workers = [int(n) for n in args.workers.split(",") if n] or [n for n in (1, 2, 4, 8, 16) if n <= cores]
    devices = [d for d in args.devices.split(",") if d] or (["cpu", "cuda"] if cuda_available() else ["cpu"])
    figures: dict[str, Any] = {"cpu_count": cores, "devices": devices, "workers": workers}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="backfill-set-") as tmp:
        for label in args.sizes.split(","):
            log(f"making {args.count + 1} distinct {label} JPEGs")
            paths = distinct_jpegs(Path(tmp) / label, args.count + 1, SIZES[label], workers=cores)
            results: dict[str, Any] = {}
            for count in workers:  # probe, hash, dedup, recorded: the engine's own overhead shows here
                results[f"no_tagging_{count}w"] = measure(paths, count, "local", "cpu", tagging=False)
                log(f"{label} no tagging {count} workers: {results[f'no_tagging_{count}w']}")
            for device in devices:
                for metadata in (False,) if args.quick else (False, True):
                    way = f"{device}_{'with_metadata' if metadata else 'recorded'}"
                    naive_figures = naive(paths[: args.naive_count], Path(tmp), metadata, device)
                    results[f"naive_{way}"] = naive_figures
                    log(f"{label} naive {way}: {naive_figures}")
                    for count in workers:
                        figures_now = measure(paths, count, "local", device, metadata)
                        figures_now["vs_naive"] = round(figures_now["photos_per_s"] / naive_figures["photos_per_s"], 2)
                        results[f"{way}_{count}w"] = figures_now
                        log(f"{label} {way} {count} workers: {figures_now}")
            figures[label] = results
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    emit(figures)


if __name__ == "__main__":
    main()
