"""Keyword writing throughput: one long-lived exiftool (-stay_open, batched) against one exiftool process per file.

Same files (copies of corpus JPEGs), same keywords, same run. "naive" is how hand-written scripts do it
(`exiftool -overwrite_original -XMP-dc:Subject=... file` per photo); "stage" is the whole metadata stage
(read, merge, write, read back and verify); "write_only" is just the batched writes through the shared process.
Chunks of `--batch` files alternate between the three, so load from other processes hits all of them alike.
Usage: python -m bench.metadata [--count 60] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import corpus_photos, emit, log
from daemon.config import MetadataConfig
from daemon.metadata.tag_names import SUBJECT
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


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time of this process and its finished children, plus a running child `pid` (Linux /proc)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    if pid is not None:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def naive(paths: list[Path]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), cpu_seconds()
    for path in paths:
        subprocess.run(["exiftool", "-q", "-overwrite_original", "-P", *assignments(), str(path)], check=True)
    return time.perf_counter() - started, cpu_seconds() - cpu


def write_only(tool: ExifTool, paths: list[Path]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), cpu_seconds(tool.pid)
    outcomes = tool.run([Command(["-overwrite_original", "-P", *assignments(), os.fsencode(p)], p) for p in paths])
    elapsed, used = time.perf_counter() - started, cpu_seconds(tool.pid) - cpu
    assert all(outcome.status == 0 for outcome in outcomes), outcomes
    return elapsed, used


def stage(metadata: MetadataStage, paths: list[Path], first: int) -> tuple[float, float]:
    tag = {"model": "bench", "keywords": [{"keyword": k, "score": 0.5, "hierarchy": None} for k in KEYWORDS]}
    items = [
        WorkItem(Job(i, i, str(p), str(p.parent), "", "metadata", 0, 1, "bench"), {"tag": tag}.get, lambda _: None)
        for i, p in enumerate(paths, first)
    ]
    started, cpu = time.perf_counter(), cpu_seconds(metadata.tool.pid)
    outcomes = metadata.run_batch(items)
    elapsed, used = time.perf_counter() - started, cpu_seconds(metadata.tool.pid) - cpu
    assert all(isinstance(o, dict) and o["verified"] for o in outcomes), outcomes
    return elapsed, used


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
        tool = ExifTool()
        metadata = MetadataStage(MetadataConfig(batch_size=args.batch), "duplicate", root / "guard")
        started = time.perf_counter()
        assert metadata.tool.version and tool.version  # the service starts exiftool once and keeps it
        figures["stay_open_startup_ms"] = round((time.perf_counter() - started) * 500, 1)
        # Chunks alternate between the three ways, so a busy machine slows all of them alike.
        seconds, cpu = dict.fromkeys(sets, 0.0), dict.fromkeys(sets, 0.0)
        for first in range(0, count, args.batch):
            log(f"files {first}..{min(first + args.batch, count) - 1}")
            chunk = slice(first, first + args.batch)
            for name, (elapsed, used) in (
                ("naive", naive(sets["naive"][chunk])),
                ("write_only", write_only(tool, sets["write_only"][chunk])),
                ("stage", stage(metadata, sets["stage"][chunk], first)),
            ):
                seconds[name] += elapsed
                cpu[name] += used
        tool.close()
        metadata.close()
        for name, elapsed in seconds.items():
            figures[f"{name}_files_per_s"] = round(count / elapsed, 1)
            figures[f"{name}_ms_per_file"] = round(elapsed * 1000 / count, 2)
            figures[f"{name}_cpu_ms_per_file"] = round(cpu[name] * 1000 / count, 2)  # steady on a busy machine
        figures["write_only_vs_naive"] = round(seconds["naive"] / seconds["write_only"], 1)
        figures["stage_vs_naive"] = round(seconds["naive"] / seconds["stage"], 1)
        figures["write_only_vs_naive_cpu"] = round(cpu["naive"] / cpu["write_only"], 1)
        figures["stage_vs_naive_cpu"] = round(cpu["naive"] / cpu["stage"], 1)
        figures["keywords_read_back"] = all(check(paths) for paths in sets.values())
    emit(figures)


if __name__ == "__main__":
    main()
