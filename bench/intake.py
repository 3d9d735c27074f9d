"""Intake rate: files queued per second when a big copy lands in a watched folder (watcher -> settle -> store).

Each way runs in its own process on a fresh database: every path is handed to the real `Intake` as a closed file
(what inotify reports after a copy), then `settle_once` runs until nothing is pending. "old" is the engine at git
OLD_REF (one transaction per file), "new" this checkout (a transaction per INTAKE_BATCH files); rounds alternate.
"new_logged" is "new" with the engine's own log (a JSON line per queued file to its rotating file, as at INFO).
Usage: python -m bench.intake [--count 100000] [--old-count 10000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO, emit, log
from bench.writes import OLD_REF, extract

CHILD = """
import json, os, sys, time
from pathlib import Path
from daemon.store import Store
from daemon.watch.intake import Intake
folder, db, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
if sys.argv[4:] == ["logged"]:
    from daemon.runtime.logs import setup_logging
    setup_logging(db.with_suffix(".log"), console=False)
paths = sorted(str(p) for p in folder.iterdir())[:count]
store = Store(db)
intake = Intake(store, "probe", settle_seconds=1.0, ignore=[])
started, cpu = time.perf_counter(), time.process_time()
for path in paths:
    intake.submit(path, str(folder), closed=True)
while intake.pending_count():
    intake.settle_once()
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
queued = store.conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
print(json.dumps({"files": len(paths), "queued": queued, "seconds": elapsed, "cpu_seconds": cpu}))
"""


def make_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for index in range(count):
        (folder / f"IMG_{index:06d}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + index.to_bytes(4, "big"))


def one_run(code: Path, folder: Path, db: Path, count: int, logged: bool = False) -> dict[str, Any]:
    db.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    for old_log in db.parent.glob(f"{db.stem}.log*"):
        old_log.unlink()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(db), str(count), *(["logged"] if logged else [])],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--old-count", type=int, default=10_000, help="the old way is slow: fewer files, same rate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old-ref", default=OLD_REF)
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "files": args.count,
        "old_files": min(args.old_count, args.count),
        "cpu_count": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        log(f"making {args.count} files")
        make_files(root / "drop", args.count)
        old_code = extract(args.old_ref, root / "old-code")
        ways = ("old", "new", "new_logged")
        rates: dict[str, list[float]] = {way: [] for way in ways}
        cpu: dict[str, list[float]] = {way: [] for way in ways}
        for round_ in range(args.rounds):
            for way in ways if round_ % 2 == 0 else ways[::-1]:
                count = figures["old_files"] if way == "old" else args.count
                code = old_code if way == "old" else REPO
                run = one_run(code, root / "drop", root / f"{way}.db", count, logged=way == "new_logged")
                assert run["queued"] == count, run
                rates[way].append(run["files"] / run["seconds"])
                cpu[way].append(run["cpu_seconds"] * 1e6 / run["files"])
                log(f"round {round_ + 1} {way}: {rates[way][-1]:.0f} files/s")
        for way in rates:
            figures[f"{way}_files_per_s"] = round(statistics.median(rates[way]))
            figures[f"{way}_cpu_us_per_file"] = round(statistics.median(cpu[way]), 1)
        figures["new_vs_old"] = round(figures["new_files_per_s"] / figures["old_files_per_s"], 1)
        figures["old_ref"] = args.old_ref
    emit(figures)


if __name__ == "__main__":
    main()
