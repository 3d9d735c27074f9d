"""`image-engine jobs --trace PATH`: the whole story of one photo, from the JSON log and the store, in time order.

Reads the log files and the database directly (read-only), so it works with the service running or not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from daemon.commands import base
from daemon.store import trace as store_trace
from daemon.store.connection import connect

PATH_KEYS = ("path", "source", "dest")


def log_files(log_path: Path) -> list[Path]:
    """The log and its rotated copies (image-engine.log.1 is newer than .2), oldest first."""
    rotated = sorted(
        (p for p in log_path.parent.glob(log_path.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    return [*rotated, *([log_path] if log_path.exists() else [])]


def log_records(log_path: Path) -> Iterator[dict[str, Any]]:
    for file in log_files(log_path):
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash
                if isinstance(record, dict):
                    yield record


def log_story(log_path: Path, paths: set[str], jobs: set[int]) -> list[dict[str, Any]]:
    """Log records naming one of `paths` or `jobs`; jobs first met on a matching line join the set."""
    records = list(log_records(log_path))
    for record in records:
        if record.get("job") is not None and any(record.get(key) in paths for key in PATH_KEYS):
            jobs.add(record["job"])
    return [r for r in records if r.get("job") in jobs or any(r.get(key) in paths for key in PATH_KEYS)]


def trace(args: argparse.Namespace) -> int:
    config = base.get_config(args)
    path = os.path.abspath(args.trace)
    stored: dict[str, Any] = {"files": [], "jobs": [], "runs": [], "results": [], "moves": [], "events": []}
    stored["paths"] = [path]
    if config.db_path.exists():
        conn = connect(config.db_path, readonly=True)
        try:
            stored = store_trace.story(conn, path)
        finally:
            conn.close()
    logged = log_story(config.log_path, set(stored["paths"]), {job["id"] for job in stored["jobs"]})
    if args.json:
        print(json.dumps({"path": path, "store": stored, "log": logged}, indent=2, default=str))
        return 0 if stored["files"] or logged else base.EXIT_RUNTIME
    if not stored["files"] and not logged:
        print(f"nothing known about {path}: not in the store ({config.db_path}) nor in the log ({config.log_path})")
        return base.EXIT_RUNTIME
    print(path)
    for file in stored["files"]:
        print(f"  file: {file['path']} ({'present' if file['present'] else 'missing'})")
    for job in stored["jobs"]:
        why = job["error"] or job["wait_reason"]
        print(f"  job {job['id']}: {job['state']} at {job['stage']}" + (f": {why}" if why else ""))
    print()
    for at, origin, text in sorted(timeline(stored, logged), key=lambda entry: entry[0]):
        print(f"{_clock(at)}  {origin:<5} {text}")
    return 0


def timeline(stored: dict[str, Any], logged: list[dict[str, Any]]) -> Iterator[tuple[float, str, str]]:
    for record in logged:
        at = dt.datetime.fromisoformat(record["ts"]).timestamp()
        yield at, "log", _log_line(record)
    reasons = {(result["job_id"], result["stage"]): result["reason"] for result in stored["results"]}
    for run in stored["runs"]:
        text = f"job {run['job_id']} {run['stage']}: {run['outcome']} ({run['ms']:.0f} ms)"
        reason = reasons.get((run["job_id"], run["stage"])) if run["outcome"] == "ok" else None
        yield run["at"], "store", text + (f": {reason}" if reason else "")
    for move in stored["moves"]:
        text = f"job {move['job_id']} move {move['state']}: {move['src']} -> {move['dest']}"
        yield move["created_at"], "store", text + (f" ({move['reason']})" if move["reason"] else "")
    for event in stored["events"]:
        yield event["at"], "store", f"{event['event']} {event['path']}: {event['detail']}"


def _log_line(record: dict[str, Any]) -> str:
    parts = [record.get("event", "?")]
    if record.get("job") is not None:
        parts.append(f"job {record['job']}")
    if record.get("stage"):
        parts.append(f"[{record['stage']}]")
    if record.get("source") and record.get("dest"):
        parts.append(f"{record['source']} -> {record['dest']}")
    elif record.get("path"):
        parts.append(str(record["path"]))
    for key in ("detail", "error"):
        value = record.get(key)
        if value not in (None, ""):
            parts.append(f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}")
    if record.get("ms") is not None:
        parts.append(f"({record['ms']} ms)")
    return " ".join(parts)


def _clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
