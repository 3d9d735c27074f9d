"""Integrity checks for chaos scenarios: nothing lost, nothing corrupted, nothing stuck, journal and disk agree.

A file counts as intact if its bytes are the original, or if it still decodes to the original pixels
(the engine may legitimately rewrite metadata); exiftool must read it without error.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import cache
from pathlib import Path

import psutil
from PIL import Image

from tests.support import Engine


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


@cache
def _source_digest(path: Path) -> tuple[str, str]:
    return sha(path), hashlib.sha256(pixels(path)).hexdigest()


def _pixel_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(pixels(path)).hexdigest()
    except OSError:
        return None


def filed_moves(engine: Engine) -> dict[str, str]:
    """Confirmed filing moves, source -> destination. An SQL error raises: a broken store must not look clean."""
    rows = engine.query("SELECT src, dest FROM rename_journal WHERE kind = 'file' AND state = 'done'")
    return {row["src"]: row["dest"] for row in rows}


def check_files(engine: Engine, originals: dict[str, Path]) -> tuple[int, int, list[str]]:
    """originals: name as dropped -> the untouched source. Returns (lost, corrupted, problems).

    A photo is found where it was dropped, where the rename journal says it was filed, or (else) at a path
    the store knows whose content or pixels match the original.
    """
    known = [Path(row["path"]) for row in engine.query("SELECT path FROM files WHERE present = 1")]
    unclaimed = {path for path in known if path.exists()}
    moves = filed_moves(engine)
    digests: dict[Path, str | None] = {}
    lost, corrupted, problems = 0, 0, []
    for name, source in originals.items():
        wanted_sha, wanted_pixels = _source_digest(source)
        current: Path | None = engine.drop / name
        if not current.exists():
            current = Path(moves[str(current)]) if str(current) in moves else None
        if current is None or not current.exists():
            current = next((p for p in unclaimed if sha(p) == wanted_sha), None)
        if current is None:
            for path in unclaimed:
                if path.suffix.lower() == source.suffix.lower():
                    digests.setdefault(path, _pixel_digest(path))
                    if digests[path] == wanted_pixels:
                        current = path
                        break
        if current is None or not current.exists():
            lost += 1
            problems.append(f"lost: {name}")
            continue
        unclaimed.discard(current)
        if sha(current) == wanted_sha:
            continue
        readable = subprocess.run(["exiftool", "-q", "-q", str(current)], capture_output=True).returncode == 0
        if not (_pixel_digest(current) == wanted_pixels and readable):
            corrupted += 1
            problems.append(f"corrupted: {current}")
    return lost, corrupted, problems


def journal_problems(engine: Engine) -> list[str]:
    """The rename journal and the disk agree: done moves landed, nothing open, every present file exists."""
    problems = []
    for row in engine.query("SELECT id, src, dest FROM rename_journal WHERE kind = 'file' AND state = 'done'"):
        if not Path(row["dest"]).exists():
            problems.append(f"journal move {row['id']}: destination {row['dest']} is missing")
        if Path(row["src"]).exists():
            problems.append(f"journal move {row['id']}: source {row['src']} still exists")
    for row in engine.query("SELECT id, src, dest FROM rename_journal WHERE state = 'open'"):
        problems.append(f"journal move {row['id']} still open: {row['src']} -> {row['dest']}")
    for row in engine.query("SELECT path FROM files WHERE present = 1"):
        if not Path(row["path"]).exists():
            problems.append(f"store says present, disk has no {row['path']}")
    return problems


def metadata_problems(engine: Engine) -> list[str]:
    """Metadata written exactly once per finished job, verified, and the engine's keywords readable by exiftool.

    Exactly once: one successful metadata run per job, one verified write record, and no keyword twice in the
    file (a write redone after a crash must merge, not append).
    """
    problems = []
    rows = engine.query(
        "SELECT files.path, res.data, mw.verified AS recorded,"
        " (SELECT COUNT(*) FROM stage_runs r WHERE r.job_id = jobs.id AND r.stage = 'metadata' AND r.outcome = 'ok')"
        " AS runs FROM jobs JOIN files ON files.id = jobs.file_id"
        " LEFT JOIN results res ON res.file_id = files.id AND res.stage = 'metadata'"
        " LEFT JOIN metadata_writes mw ON mw.file_id = files.id WHERE jobs.state = 'done'"
    )
    targets = {}
    for row in rows:
        result = json.loads(row["data"] or "{}")
        if row["runs"] != 1 or not result.get("verified"):
            problems.append(f"{row['path']}: {row['runs']} metadata runs, result {result}")
            continue
        if result["engine_keywords"] and not row["recorded"]:
            problems.append(f"{row['path']}: no verified metadata_writes row")
        if result["target"] != row["path"]:
            problems.append(f"{row['path']}: metadata written to {result['target']}")
        if result["engine_keywords"]:
            targets[result["target"]] = result["engine_keywords"]
    if not targets:
        return problems
    read = subprocess.run(
        ["exiftool", "-j", "-XMP-dc:Subject", "-IPTC:Keywords", *targets], capture_output=True, text=True
    )
    for entry in json.loads(read.stdout or "[]"):
        subject = entry.get("Subject", [])
        subject = [str(k) for k in (subject if isinstance(subject, list) else [subject])]
        have = {k.casefold() for k in subject}
        missing = [k for k in targets[entry["SourceFile"]] if k.casefold() not in have]
        if missing:
            problems.append(f"{entry['SourceFile']}: keywords {missing} not in XMP-dc:Subject {subject}")
        if len(have) != len(subject):
            problems.append(f"{entry['SourceFile']}: a keyword written twice: {subject}")
    if len(json.loads(read.stdout or "[]")) != len(targets):
        problems.append(f"exiftool read {read.stdout.count('SourceFile')} of {len(targets)} files: {read.stderr}")
    return problems


def exiftool_litter(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*_exiftool_tmp*")]


def stuck_jobs(engine: Engine) -> int:
    return engine.query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')")[0]["n"]


def rss_mb(engine: Engine) -> float:
    try:
        process = psutil.Process(engine.process.pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0
