"""The backfill on Ray against the same backfill run locally, at equal cores; and what bounds a bigger cluster.

Figures: photos/s of `image-engine backfill` locally ([engine] workers = CORES) and on a local Ray cluster of CORES
one-CPU nodes (a warm-up backfill first, then the measured one, both executors alike); Ray's overhead; the records/s
the owning engine can record (the ceiling for any number of GPU nodes); network bytes per photo at each hop.
Usage: python -m bench.ray [--count 48] [--cores 2] [--address HOST:PORT] [--tagging]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy

from bench.common import REPO, emit, log, make_jpegs

RAY = Path(sys.executable).with_name("ray")


class LocalCluster:
    """`cores` one-CPU Ray nodes on this machine (`ray start --block`, one process group each)."""

    def __init__(self, cores: int, folder: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
        self.processes: list[subprocess.Popen[bytes]] = []
        for index in range(cores):
            where = (
                ["--head", f"--port={port}", "--include-dashboard=false"]
                if index == 0
                else [f"--address={self.address}"]
            )
            self.processes.append(
                subprocess.Popen(
                    [str(RAY), "start", *where, "--num-cpus=1", "--object-store-memory=200000000", "--block"],
                    env=self.env,
                    stdout=open(folder / f"ray-{index}.log", "wb"),  # noqa: SIM115 - lives as long as the node
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            self.wait_nodes(index + 1)

    def wait_nodes(self, count: int) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            shown = subprocess.run(
                [str(RAY), "status", f"--address={self.address}"], env=self.env, capture_output=True, text=True
            )
            if shown.stdout.count(" node_") >= count:
                return
            time.sleep(1)
        raise RuntimeError(f"Ray nodes did not start: see {self.processes[-1].args}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def engine_config(folder: Path, cores: int, tagging: bool, cluster: str) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'data_dir = "{folder / "data"}"\n[[watch]]\npath = "{folder / "drop"}"\n'
        f'[library]\nroot = "{folder / "library"}"\nwatch = false\n[engine]\nworkers = {cores}\n'
        f"[tagging]\nenabled = {'true' if tagging else 'false'}\n[rename]\nenabled = false\n"
        f"[metadata]\nenabled = false\n{cluster}",
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "daemon", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def backfill_rate(folder: Path, photos: list[Path], cores: int, tagging: bool, cluster: str) -> dict[str, Any]:
    """Start an engine, backfill a warm-up folder, then the measured one; photos/s of the measured backfill."""
    for name, count in (("warmup", max(8, len(photos) // 4)), ("measured", len(photos))):
        target = folder / "library" / name
        target.mkdir(parents=True)
        for photo in photos[:count]:
            shutil.copy2(photo, target / photo.name)
    config = engine_config(folder, cores, tagging, cluster)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
    engine = subprocess.Popen(
        [sys.executable, "-m", "daemon", "--config", str(config), "run"],
        env=env,
        start_new_session=True,
        stdout=open(folder / "engine.out", "wb"),  # noqa: SIM115 - lives as long as the engine
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while cli(config, "status").returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"engine did not start: {folder / 'engine.out'}")
            time.sleep(0.5)
        for name in ("warmup", "measured"):
            done = cli(config, "backfill", str(folder / "library" / name))
            if done.returncode != 0:
                raise RuntimeError(done.stdout + done.stderr)
        shown = json.loads(cli(config, "status", "--json").stdout)["backfill"]
        return {
            "photos_per_second": shown["photos_per_second"],
            "seconds": round(shown["finished"] - shown["started"], 2),
            "executor": shown["executor"],
            "nodes": shown.get("nodes"),
            "cluster": shown.get("cluster"),
        }
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        engine.wait(timeout=60)


def owner_records_per_second(folder: Path, count: int = 2000) -> dict[str, float]:
    """How fast the owning engine records outcomes that come back from nodes (probe, hash and tag results,
    through the same StageWorker code and store transactions), with no Ray: the bound on any cluster's rate."""
    from daemon.config import Config, DedupConfig, TaggingConfig, WatchConfig
    from daemon.executors.ray_cluster import RayCluster
    from daemon.executors.ray_feeder import RayFeeder
    from daemon.executors.wire import Parcel, encode_outcome
    from daemon.pipeline import build_pipeline
    from daemon.pipeline.workers import Control
    from daemon.store import Store, queue
    from daemon.store.tagging import EMBEDDING_KEY

    config = Config(data_dir=folder / "data", watch=[WatchConfig(path=folder / "drop")])
    config.tagging = TaggingConfig(enabled=True)  # its session never loads: only its record() runs here
    config.dedup = DedupConfig(enabled=False)  # dedup runs on the owner's own workers, not in this figure
    store = Store(config.db_path)
    pipeline = build_pipeline(config, store)
    feeder = RayFeeder(RayCluster("unused"), store, pipeline, config, Control(), lambda path: None)
    probe = {
        "format": "JPEG",
        "width": 4000,
        "height": 3000,
        "size": 3_000_000,
        "reduced": [384, 288],
        "orientation": 1,
        "taken": "2020-01-01T12:00:00",
        "taken_source": "exif",
        "taken_note": None,
        "make": "Canon",
        "model": "EOS",
        "gps_lat": None,
        "gps_lon": None,
        "place": None,
    }
    for index in range(count):
        queue.enqueue(
            store.conn, f"/photos/{index:06d}.jpg", "/photos", queue.FileStat(1000 + index, index, index), "probe"
        )
    jobs = queue.claim(store.conn, feeder.recorder.owner, feeder.names, count, 3600)
    parcels = []
    for job in jobs:
        hashed = {"sha256": f"{job.file_id:064x}", "phash": f"{job.file_id:016x}", "dhash": f"{job.file_id:016x}"}
        parcel = Parcel(job, feeder.names, {})
        tagged = {
            "backend": "imagenet",
            "model": "imagenet:efficientnet-lite0",
            "keywords": [
                {"keyword": f"keyword {n}", "score": 0.5, "source": "auto", "hierarchy": None} for n in range(10)
            ],
            "category": "Animals",
            "category_score": 0.5,
            "caption": None,
            "facts": {"sharpness": 1.0, "blurry": False},
            EMBEDDING_KEY: numpy.random.default_rng(job.file_id).random(1280, dtype=numpy.float32),
        }
        parcel.outcomes = [
            ("probe", {**encode_outcome(dict(probe)), "ms": 5.0}),
            ("hash", {**encode_outcome(hashed), "ms": 1.0}),
            ("tag", {**encode_outcome(tagged), "ms": 10.0}),
        ]
        parcels.append(parcel)
    started = time.perf_counter()
    for job, parcel in zip(jobs, parcels, strict=True):
        feeder.record(job, parcel)
    seconds = time.perf_counter() - started
    store.close()
    return {"photos_per_second": round(len(jobs) / seconds, 1), "records_per_second": round(3 * len(jobs) / seconds, 1)}


def measure(
    count: int = 48,
    cores: int = 2,
    address: str | None = None,
    tagging: bool = False,
    modes: tuple[str, ...] = ("shipped", "same-path"),
) -> dict[str, Any]:
    """The figures, as a dict (bench.backfill --ray calls this)."""
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    photos = make_jpegs(work / "source", count, (1632, 1224))  # 2 MP
    figures: dict[str, Any] = {"photos": count, "cores": cores, "size": "1632x1224", "tagging": tagging}
    log("owner recording rate ...")
    figures["owner"] = owner_records_per_second(work / "records")
    log("local backfill ...")
    figures["local"] = backfill_rate(work / "local", photos, cores, tagging, "")
    cluster = None if address else LocalCluster(cores, work)
    try:
        where = address or cluster.address  # type: ignore[union-attr]
        for mode in modes:
            log(f"ray backfill ({mode}) ...")
            figures[f"ray_{mode}"] = backfill_rate(
                work / f"ray-{mode}",
                photos,
                cores,
                tagging,
                f'[cluster]\nexecutor = "ray"\nray_address = "{where}"\nphotos = "{mode}"\n',
            )
    finally:
        if cluster is not None:
            cluster.stop()
    local = figures["local"]["photos_per_second"]
    for mode in modes:
        rate = figures[f"ray_{mode}"]["photos_per_second"]
        figures[f"ray_{mode}"]["overhead"] = round(1 - rate / local, 3) if local and rate else None
    shutil.rmtree(work, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--address", help="an existing cluster's head (default: start CORES one-CPU nodes here)")
    parser.add_argument("--tagging", action="store_true", help="tag too (EfficientNet-Lite on CPU)")
    parser.add_argument("--modes", default="shipped,same-path", help="[cluster] photos modes to run, comma-separated")
    args = parser.parse_args()
    emit(measure(args.count, args.cores, args.address, args.tagging, tuple(args.modes.split(","))))


if __name__ == "__main__":
    main()
