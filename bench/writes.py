"""Disk writes per photo: the real engine (`image-engine run`) over N small photos, bytes counted by the kernel.

Reads /proc/PID/io (write_bytes: what reaches the block layer; wchar: every write() call) of the engine and its
children (exiftool) until the queue is empty, and splits the engine's SQLite WAL by table (frames per page, named
through dbstat). The engine before batched writes (git ref OLD_REF, extracted with `git archive`) and this one run on
the same photos, interleaved.
Usage: python -m bench.writes [--count 300] [--rounds 1] [--tagging] [--old-ref REF]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, emit, log

SMALL = (96, 72)  # ~4 KB JPEGs, as in the measurement
OLD_REF = "5c2414a"  # main before issue 18's write batching


def small_photos(folder: Path, count: int) -> list[Path]:
    """`count` distinct ~4 KB JPEGs (resized corpus photos with a per-file pixel, so no two are duplicates)."""
    from PIL import Image

    from bench.common import corpus_photos

    folder.mkdir(parents=True, exist_ok=True)
    sources = corpus_photos()
    bases = []
    for source in sources:
        with Image.open(source) as image:
            image.draft("RGB", (SMALL[0] * 2, SMALL[1] * 2))
            bases.append(image.convert("RGB").resize(SMALL))
    made = []
    for index in range(count):
        image = bases[index % len(bases)].copy()
        image.putpixel((index % SMALL[0], (index // SMALL[0]) % SMALL[1]), (index % 256, 0, 255 - index % 256))
        target = folder / f"small_{index:05d}.jpg"
        image.save(target, quality=90)
        made.append(target)
    return made


def config_text(root: Path, way: str, tagging: bool, keep_wal: bool) -> str:
    engine = "[engine]\nsettle_seconds = 0.2\n"
    if way == "new" and keep_wal:  # the breakdown run: nothing leaves the WAL, so every frame can be attributed
        engine += "wal_autocheckpoint = 0\n"
    return (
        f'data_dir = "{root / "data"}"\n\n[[watch]]\npath = "{root / "drop"}"\nmode = "drop"\n\n'
        f'[library]\nroot = "{root / "library"}"\n\n{engine}\n[tagging]\nenabled = {str(tagging).lower()}\n'
    )


def tree_io(pid: int) -> dict[int, dict[str, int]]:
    """/proc/PID/io of `pid` and every descendant alive now."""
    found: dict[int, dict[str, int]] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            lines = Path(f"/proc/{current}/io").read_text().splitlines()
            children = [
                c for task in Path(f"/proc/{current}/task").iterdir() for c in (task / "children").read_text().split()
            ]
        except OSError:
            continue
        found[current] = {key: int(value) for key, value in (line.split(": ") for line in lines)}
        try:
            found[current]["comm"] = Path(f"/proc/{current}/comm").read_text().strip()  # type: ignore[assignment]
        except OSError:
            found[current]["comm"] = "?"  # type: ignore[assignment]
        todo += [int(child) for child in children]
    return found


def wal_by_table(db: Path) -> dict[str, int]:
    """Bytes of WAL frames per table/index (the WAL is never checkpointed in this run: see `keep_wal`)."""
    wal = db.with_name(db.name + "-wal")
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return {}
    page_size = struct.unpack(">I", data[8:12])[0]
    pages: collections.Counter[int] = collections.Counter()
    for offset in range(32, len(data) - 24 - page_size + 1, 24 + page_size):
        pages[struct.unpack(">I", data[offset : offset + 4])[0]] += 1
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    conn.close()
    by_name: collections.Counter[str] = collections.Counter()
    for page, frames in pages.items():
        by_name[names.get(page, "(free or new)")] += frames * (24 + page_size)
    return dict(by_name.most_common())


def data_files(data: Path, count: int) -> dict[str, int]:
    """What the data folder holds at the end, per top-level entry (the database, its WAL, logs, thumbnails)."""
    return {
        entry.name: round((folder_bytes(entry) if entry.is_dir() else entry.stat().st_size) / count)
        for entry in sorted(data.iterdir())
    }


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def extract(ref: str, folder: Path) -> Path:
    """The engine's code at git `ref` (daemon/ only), for the old way."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "daemon"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


old_code = REPO


def run_once(root: Path, sources: list[Path], way: str, tagging: bool, keep_wal: bool) -> dict[str, Any]:
    for sub in ("data", "drop", "library"):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / "drop").mkdir(parents=True)
    config = root / "config.toml"
    config.write_text(config_text(root, way, tagging, keep_wal))
    code = old_code if way == "old" else REPO
    env = {**os.environ, "PYTHONPATH": str(code)}
    process = subprocess.Popen(
        [sys.executable, "-m", "daemon", "--config", str(config), "run"],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(root / f"engine-{way}.log", "ab"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    db = root / "data" / "image-engine.db"
    try:
        deadline = time.monotonic() + 120
        while not (root / "data" / "control.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # the control server starts after the migrations: start-up writes are not the photos'
        time.sleep(12.0)  # a running engine: the first 10 s after a start claim one file at a time (crash blame)
        start = tree_io(process.pid)
        started = time.perf_counter()
        for source in sources:
            shutil.copyfile(source, root / "drop" / source.name)
        last = dict(start)
        finished = 0
        deadline = time.monotonic() + 60 + 2 * len(sources)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            for pid, counters in tree_io(process.pid).items():
                last[pid] = counters
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            finished, active, jobs = conn.execute(
                "SELECT SUM(state IN ('done', 'failed')), SUM(state IN ('queued', 'running', 'waiting')), COUNT(*)"
                " FROM jobs"
            ).fetchone()
            conn.close()
            if jobs >= len(sources) and not active:  # (a job may end superseded: its file changed or left)
                break
        elapsed = time.perf_counter() - started
        for pid, counters in tree_io(process.pid).items():
            last[pid] = counters
        breakdown = wal_by_table(db) if keep_wal else {}
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        failed = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'failed'").fetchone()[0]
        conn.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

    def total(key: str) -> int:
        return sum(last[pid][key] - start.get(pid, {}).get(key, 0) for pid in last)

    count = len(sources)
    figures = {
        "photos": count,
        "finished": finished,
        "failed": failed,
        "seconds": round(elapsed, 1),
        "write_bytes_per_photo": round(total("write_bytes") / count),
        "write_minus_cancelled_per_photo": round((total("write_bytes") - total("cancelled_write_bytes")) / count),
        "wchar_per_photo": round(total("wchar") / count),
        "syscw_per_photo": round(total("syscw") / count, 1),
        "photo_bytes": round(folder_bytes(root / "library") / count),
        "write_bytes_per_photo_by_process": {
            f"{last[pid]['comm']}-{pid}": round(
                (last[pid]["write_bytes"] - start.get(pid, {}).get("write_bytes", 0)) / count
            )
            for pid in last
        },
        "data_folder_bytes_per_photo": data_files(root / "data", count),
    }
    if breakdown:
        figures["wal_bytes_per_photo_by_table"] = {name: round(size / count) for name, size in breakdown.items()}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="old/new pairs, interleaved")
    parser.add_argument("--tagging", action="store_true", help="AI tagging on (loads torch: slow on 2 cores)")
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument("--only", choices=["old", "new"], help="one way (no comparison)")
    args = parser.parse_args()
    global old_code
    figures: dict[str, Any] = {"photos": args.count, "tagging": args.tagging}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        old_code = extract(args.old_ref, root / "old-code")
        figures["old_ref"] = args.old_ref
        sources = small_photos(root / "sources", args.count)
        figures["photo_kb"] = round(sum(p.stat().st_size for p in sources) / len(sources) / 1024, 1)
        runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
        for round_ in range(args.rounds):
            for way in ("old", "new") if round_ % 2 == 0 else ("new", "old"):
                if args.only and way != args.only:
                    continue
                log(f"round {round_ + 1}: {way}")
                runs[way].append(run_once(root / way, sources, way, args.tagging, keep_wal=False))
        for way, results in runs.items():
            if not results:
                continue
            results.sort(key=lambda r: r["write_bytes_per_photo"])
            figures[way] = results[len(results) // 2]  # the median run
        if not args.no_breakdown:
            log("breakdown run (no checkpoints)")
            for way in ("new",):
                figures[f"{way}_wal_breakdown"] = run_once(root / f"{way}-wal", sources, way, args.tagging, True).get(
                    "wal_bytes_per_photo_by_table", {}
                )
        if "old" in figures and "new" in figures:
            figures["write_bytes_new_vs_old"] = round(
                figures["old"]["write_bytes_per_photo"] / max(figures["new"]["write_bytes_per_photo"], 1), 1
            )
    emit(figures)


if __name__ == "__main__":
    main()
