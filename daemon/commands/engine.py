"""`image-engine run | status | pause | resume | scan | jobs | retry | config check`: the service and its queue.

`run` serves in the foreground (daemon/runtime); the others talk to the running service over the control API.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from daemon.commands import base
from daemon.config import load_config


def add_parsers(sub: Any) -> None:
    sub.add_parser("run", help="run the service in the foreground")
    status = sub.add_parser("status", help="what the service is doing")
    status.add_argument("--json", action="store_true")
    sub.add_parser("pause", help="stop starting new work (watching continues)")
    sub.add_parser("resume", help="start work again")
    scan = sub.add_parser("scan", help="reconcile watched folders with the store now")
    scan.add_argument("path", nargs="?")
    jobs = sub.add_parser("jobs", help="what happened to which file, and why")
    jobs.add_argument("--state", choices=["queued", "running", "done", "failed", "waiting"])
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--json", action="store_true")
    jobs.add_argument("--trace", metavar="PATH", help="the whole story of one photo, from the log and the store")
    sub.add_parser("retry", help="queue failed jobs again")
    config = sub.add_parser("config", help="config file tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a config file without starting")
    check.add_argument("file")


def config_check(args: argparse.Namespace) -> int:
    config = load_config(Path(args.file))
    print(f"{args.file}: ok ({len(config.watch)} watched folder(s), data_dir={config.data_dir})")
    return 0


def run(args: argparse.Namespace) -> int:
    from daemon.runtime.serve import serve
    from daemon.runtime.signals import stop_on_signals

    config = base.get_config(args)
    return serve(config, stop_on_signals())


def status(args: argparse.Namespace) -> int:
    data = base.client_for(args).get("/status")
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    jobs = data["jobs"]
    print(f"state: {data['state']}   uptime: {_duration(data['uptime'])}   files: {data['files']}")
    print(
        "jobs: " + "  ".join(f"{key} {jobs.get(key, 0)}" for key in ("queued", "running", "waiting", "done", "failed"))
    )
    for watch in data.get("watching", []):
        how = "polling" if watch["polling"] else "watching"
        print(f"{how}: {watch['path']}" + (f" ({watch['reason']})" if watch.get("reason") else ""))
    gpu = data.get("gpu")
    if isinstance(gpu, dict):
        print(f"gpu: {gpu.get('summary')}" + (f"\n  heavy work waits: {gpu['waiting']}" if gpu.get("waiting") else ""))
    if data.get("not_filed"):
        print("left unfiled:")
        for item in data["not_filed"]:
            print(f"  {item['path']}: {item['reason']}")
    learning = data.get("learning") or {}
    if learning.get("state") not in (None, "idle"):
        done, total = learning.get("done", 0), learning.get("total", 0)
        print(f"learning: {learning['state']} {learning.get('keyword', '')} {done}/{total}")
    if data["errors"]:
        print("last errors:")
        for error in data["errors"][:5]:
            print(f"  {error['path']}: {error['detail']}")
    return 0


def pause(args: argparse.Namespace) -> int:
    answer = base.client_for(args).post("/pause")
    if answer.get("changed") is False:
        print("already paused: no new work starts; `image-engine resume` starts it again")
        return 0
    print("paused: no new work starts; watching continues")
    return 0


def resume(args: argparse.Namespace) -> int:
    answer = base.client_for(args).post("/resume")
    print("already running: nothing was paused" if answer.get("changed") is False else "resumed")
    return 0


def retry(args: argparse.Namespace) -> int:
    data = base.client_for(args).post("/retry")
    print(f"queued {data['retried']} failed job(s) again")
    return 0


def scan(args: argparse.Namespace) -> int:
    client = base.client_for(args)
    path = str(Path(args.path).resolve()) if args.path else None
    scan_id = client.post("/scan", {"path": path} if path else {})["scan"]
    show_bar = sys.stderr.isatty()
    while True:
        progress = client.get(f"/scan?id={scan_id}")
        if show_bar and progress["total"]:
            width = 30
            filled = int(width * progress["done"] / progress["total"])
            sys.stderr.write(
                f"\rscanning [{'#' * filled}{'.' * (width - filled)}] {progress['done']}/{progress['total']}"
            )
            sys.stderr.flush()
        if progress["state"] != "running":
            break
        time.sleep(0.2)
    if show_bar:
        sys.stderr.write("\n")
    if progress["state"] == "failed":
        print(f"scan failed: {progress.get('error')}", file=sys.stderr)
        return base.EXIT_RUNTIME
    print(f"scanned {progress['done']} file(s): {progress['submitted']} new or changed, {progress['missing']} missing")
    return 0


def jobs(args: argparse.Namespace) -> int:
    if args.trace:
        from daemon.commands.trace import trace

        return trace(args)
    query = f"?limit={args.limit}" + (f"&state={args.state}" if args.state else "")
    data = base.client_for(args).get("/jobs" + query)
    if args.json:
        print(json.dumps(data["jobs"], indent=2, default=str))
        return 0
    for job in data["jobs"]:
        why = job["error"] or job["wait_reason"] or job.get("note") or ""
        print(
            f"{job['id']:>6}  {job['state']:<8} {job['stage']:<9} {job['path']}" + (f"\n        {why}" if why else "")
        )
        if job.get("taken"):
            print(f"        {base.taken_line(job)}")
    if not data["jobs"]:
        print("no jobs" + (f" in state {args.state}" if args.state else ""))
    return 0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


COMMANDS: dict[str, base.Command] = {
    "run": run,
    "status": status,
    "pause": pause,
    "resume": resume,
    "scan": scan,
    "jobs": jobs,
    "retry": retry,
    "config check": config_check,
}
