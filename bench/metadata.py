"""Keyword writing throughput: one long-lived exiftool (-stay_open, batched) against one exiftool process per file.

Same files (copies of corpus JPEGs), same keywords, same run. "naive" is how hand-written scripts do it
(`exiftool -overwrite_original -XMP-dc:Subject=... file` per photo); "stage" is the whole metadata stage
(read, merge, write, read back and verify); "write_only" is just the batched writes through the shared process.
Usage: python -m bench.metadata [--count 60] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import corpus_photos, emit, log
from daemon.config import MetadataConfig
from daemon.metadata.plan import SUBJECT
from daemon.pipeline.base import WorkItem
from daemon.pipeline.metadata import MetadataStage
from daemon.store.queue import Job
from daemon.tools.exiftool import Command, ExifTool

KEYWORDS = ["dog", "grass", "outdoor", "Café über", "golden retriever"]


def copies(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    sources = corpus_photos()
    made = []
    for index in range(count):
        target = folder / f"{index:03d}.jpg"
        shutil.copyfile(sources[index % len(sources)], target)
        made.append(target)
    return made


def assignments() -> list[str]:
    return [
        "-IPTC:CodedCharacterSet=UTF8",
        *(f"-XMP-dc:Subject={k}" for k in KEYWORDS),
        *(f"-IPTC:Keywords={k}" for k in KEYWORDS),
    ]


def naive(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        subprocess.run(["exiftool", "-q", "-overwrite_original", "-P", *assignments(), str(path)], check=True)
    return time.perf_counter() - started


def write_only(paths: list[Path], batch: int) -> float:
    tool = ExifTool()
    assert tool.version  # started before timing: the service keeps it running
    started = time.perf_counter()
    for first in range(0, len(paths), batch):
        chunk = paths[first : first + batch]
        outcomes = tool.run([Command(["-overwrite_original", "-P", *assignments(), os.fsencode(p)], p) for p in chunk])
        assert all(outcome.status == 0 for outcome in outcomes), outcomes
    elapsed = time.perf_counter() - started
    tool.close()
    return elapsed


def stage(paths: list[Path], batch: int, scratch: Path) -> tuple[float, float]:
    metadata = MetadataStage(MetadataConfig(batch_size=batch), "duplicate", scratch)
    started = time.perf_counter()
    assert metadata.tool.version
    startup = time.perf_counter() - started
    tag = {"model": "bench", "keywords": [{"keyword": k, "score": 0.5, "hierarchy": None} for k in KEYWORDS]}
    started = time.perf_counter()
    for first in range(0, len(paths), batch):
        items = [
            WorkItem(Job(i, i, str(p), str(p.parent), "", "metadata", 0, 1, "bench"), {"tag": tag}.get, lambda _: None)
            for i, p in enumerate(paths[first : first + batch], first)
        ]
        outcomes = metadata.run_batch(items)
        assert all(isinstance(o, dict) and o["verified"] for o in outcomes), outcomes
    elapsed = time.perf_counter() - started
    metadata.close()
    return elapsed, startup


def check(paths: list[Path]) -> bool:
    tool = ExifTool()
    try:
        return all(
            isinstance(r, dict) and set(KEYWORDS) <= set(r.get(SUBJECT, [])) for r in tool.read(paths, [SUBJECT])
        )
    finally:
        tool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="16 files")
    args = parser.parse_args()
    count = 16 if args.quick else args.count
    version = subprocess.run(["exiftool", "-ver"], capture_output=True, text=True).stdout.strip()
    figures: dict[str, object] = {"files": count, "batch": args.batch, "exiftool": version, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets = {name: copies(root / name, count) for name in ("naive", "write_only", "stage")}
        figures["mean_file_kb"] = round(sum(p.stat().st_size for p in sets["naive"]) / count / 1024, 1)
        log(f"naive: one exiftool process per file, {count} files")
        seconds = {"naive": naive(sets["naive"])}
        log("write_only: batched writes through one stay_open exiftool")
        seconds["write_only"] = write_only(sets["write_only"], args.batch)
        log("stage: read + merge + write + verify through one stay_open exiftool")
        seconds["stage"], figures["stay_open_startup_ms"] = stage(sets["stage"], args.batch, root / "guard")
        figures["stay_open_startup_ms"] = round(figures["stay_open_startup_ms"] * 1000, 1)
        for name, elapsed in seconds.items():
            figures[f"{name}_files_per_s"] = round(count / elapsed, 1)
            figures[f"{name}_ms_per_file"] = round(elapsed * 1000 / count, 2)
        figures["write_only_vs_naive"] = round(seconds["naive"] / seconds["write_only"], 1)
        figures["stage_vs_naive"] = round(seconds["naive"] / seconds["stage"], 1)
        figures["keywords_read_back"] = all(check(paths) for paths in sets.values())
    emit(figures)


if __name__ == "__main__":
    main()
