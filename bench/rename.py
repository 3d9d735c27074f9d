"""Filing throughput of the rename stage (files/s): template, collision checks, journal intent, move, confirm.

Compares, in one run on the same kind of files: the naive way (os.rename into the rendered folder, no journal,
no checks), the engine's stage through a real SQLite store, the same when every file collides (counters), a
dry run (plan only), moves across filesystems (/dev/shm, when it is another one), and undo of everything.
Files are 15-25 KB of random bytes (sizes differ, as photos do; same-size collisions would also be hashed).
Usage: python -m bench.rename [--count 1000] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, log
from daemon.config import Config, LibraryConfig, RenameConfig, WatchConfig
from daemon.pipeline.base import WorkItem
from daemon.pipeline.rename import RenameStage
from daemon.rename.mover import file_sha256
from daemon.rename.template import parse_template
from daemon.rename.undo import plan_undo, run_undo
from daemon.store import Store, queue
from daemon.store.queue import FileStat

TEMPLATE = "{taken:%Y}/{taken:%Y-%m-%d}/{taken:%Y%m%d_%H%M%S}_{stem}{counter}.{ext}"
COLLIDING = "{taken:%Y}/{taken:%Y%m%d}{counter}.{ext}"


def make_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        path = folder / f"IMG_{index:05d}.jpg"
        path.write_bytes(b"\xff\xd8" + os.urandom(random.randint(15_000, 25_000)) + b"\xff\xd9")
        made.append(path)
    return made


def taken_of(index: int) -> str:
    return (dt.datetime(2020, 1, 1) + dt.timedelta(minutes=17 * index)).isoformat()


def naive(files: list[Path], library: Path) -> float:
    template = parse_template(TEMPLATE)
    started = time.perf_counter()
    for index, path in enumerate(files):
        values = {"taken": dt.datetime.fromisoformat(taken_of(index)), "stem": path.stem, "ext": "jpg"}
        target = library.joinpath(*template.render(values, 0, "unknown"))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, target)
    return time.perf_counter() - started


def engine(work: Path, files: list[Path], template: str, library: Path, **rename: Any) -> tuple[float, Config]:
    drop = files[0].parent
    config = Config(
        data_dir=work / "data",
        watch=[WatchConfig(path=drop)],
        library=LibraryConfig(root=library),
        rename=RenameConfig(template=template, **rename),
    )
    store = Store(config.db_path)
    stage = RenameStage(config, ["probe", "hash"])
    conn = store.conn
    for path in files:
        info = os.stat(path)
        queue.enqueue(conn, str(path), str(drop), FileStat(info.st_size, info.st_mtime_ns, info.st_ino), "rename")
    jobs = queue.claim(conn, "bench", ["rename"], len(files), 3600)
    earlier = {  # what probe and hash recorded before rename runs
        job.id: {
            "probe": {"taken": taken_of(index if template == TEMPLATE else 0), "taken_source": "DateTimeOriginal"},
            "hash": {"sha256": file_sha256(job.path)},
        }
        for index, job in enumerate(jobs)
    }
    started = time.perf_counter()
    for job in jobs:
        item = WorkItem(job, earlier[job.id].get, lambda item: None)  # type: ignore[arg-type]
        result = stage.run(item)
        queue.complete(conn, job, result, 0.0, None, 3600, record=stage.record)
    elapsed = time.perf_counter() - started
    stage.close()
    store.close()
    return elapsed, config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 files, a few seconds")
    args = parser.parse_args()
    count = 200 if args.quick else args.count
    colliding = min(count, 300)
    figures: dict[str, Any] = {"files": count, "colliding_files": colliding}
    with tempfile.TemporaryDirectory(prefix="bench-rename-") as temp:
        work = Path(temp)
        log(f"naive os.rename of {count} files")
        seconds = naive(make_files(work / "naive" / "drop", count), work / "naive" / "library")
        figures["naive_os_rename_per_s"] = round(count / seconds, 1)

        log(f"engine stage, {count} files")
        files = make_files(work / "ours" / "drop", count)
        seconds, config = engine(work / "ours", files, TEMPLATE, work / "ours" / "library")
        figures["engine_per_s"] = round(count / seconds, 1)
        figures["engine_ms_per_file"] = round(seconds * 1000 / count, 2)

        log("undo of everything")
        store = Store(config.db_path)
        started = time.perf_counter()
        steps = run_undo(store.conn, config, plan_undo(store.conn, everything=True))
        figures["undo_per_s"] = round(count / (time.perf_counter() - started), 1)
        figures["undo_all_restored"] = all(step.status == "undone" for step in steps) and all(p.exists() for p in files)
        store.close()

        log(f"engine stage, {colliding} files all taken the same day (counters _1.._{colliding - 1})")
        files = make_files(work / "collide" / "drop", colliding)
        seconds, _ = engine(work / "collide", files, COLLIDING, work / "collide" / "library")
        figures["engine_all_colliding_per_s"] = round(colliding / seconds, 1)

        log(f"dry run, {count} files")
        files = make_files(work / "dry" / "drop", count)
        seconds, _ = engine(work / "dry", files, TEMPLATE, work / "dry" / "library", dry_run=True)
        figures["dry_run_plan_per_s"] = round(count / seconds, 1)

        shm = Path("/dev/shm")
        if shm.is_dir() and os.stat(shm).st_dev != os.stat(work).st_dev:
            log(f"engine stage across filesystems (library in {shm}), {count} files")
            library = Path(tempfile.mkdtemp(prefix="bench-rename-", dir=shm))
            try:
                files = make_files(work / "across" / "drop", count)
                seconds, _ = engine(work / "across", files, TEMPLATE, library)
                figures["engine_across_filesystems_per_s"] = round(count / seconds, 1)
            finally:
                shutil.rmtree(library, ignore_errors=True)
    figures["journal_overhead_vs_naive"] = round(figures["naive_os_rename_per_s"] / figures["engine_per_s"], 1)
    emit(figures)


if __name__ == "__main__":
    main()
