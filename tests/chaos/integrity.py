"""Integrity checks for chaos scenarios: nothing lost, nothing corrupted, nothing stuck.

A file counts as intact if its bytes are the original, or if it still decodes to the original pixels
(the engine may legitimately rewrite metadata); exiftool must read it without error.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import psutil
from PIL import Image

from tests.support import Engine


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def check_files(engine: Engine, originals: dict[str, Path]) -> tuple[int, int, list[str]]:
    """originals: name as dropped -> the untouched source. Returns (lost, corrupted, problems).

    A photo is found where it was dropped, or (filed by the engine) at a path the store knows whose
    content or pixels match the original.
    """
    known = [Path(row["path"]) for row in engine.query("SELECT path FROM files WHERE present = 1")]
    unclaimed = {path for path in known if path.exists()}
    lost, corrupted, problems = 0, 0, []
    for name, source in originals.items():
        current = engine.drop / name
        if not current.exists():
            wanted = sha(source)
            current = next((p for p in unclaimed if sha(p) == wanted), None) or next(
                (p for p in unclaimed if p.suffix.lower() == source.suffix.lower() and _same_pixels(p, source)), None
            )
        if current is None or not current.exists():
            lost += 1
            problems.append(f"lost: {name}")
            continue
        unclaimed.discard(current)
        if sha(current) == sha(source):
            continue
        readable = subprocess.run(["exiftool", "-q", "-q", str(current)], capture_output=True).returncode == 0
        if not (_same_pixels(current, source) and readable):
            corrupted += 1
            problems.append(f"corrupted: {current}")
    return lost, corrupted, problems


def _same_pixels(a: Path, b: Path) -> bool:
    try:
        return pixels(a) == pixels(b)
    except OSError:
        return False


def stuck_jobs(engine: Engine) -> int:
    return engine.query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')")[0]["n"]


def rss_mb(engine: Engine) -> float:
    try:
        process = psutil.Process(engine.process.pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0
