"""`image-engine ...`: run the service, and the client commands that talk to it over the control API.

Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage, 3 service not reachable.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.config import Config, default_config_path, load_config
from daemon.errors import ConfigError, EngineError

EXIT_RUNTIME, EXIT_CONFIG, EXIT_UNREACHABLE = 1, 2, 3
Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(function: Command) -> Command:
        COMMANDS[name] = function
        return function

    return register


def config_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "config", None):
        return Path(args.config)
    if os.environ.get("IMAGE_ENGINE_CONFIG"):
        return Path(os.environ["IMAGE_ENGINE_CONFIG"])
    default = default_config_path()
    return default if default.exists() else None


def get_config(args: argparse.Namespace) -> Config:
    return load_config(config_path(args))


def client_for(args: argparse.Namespace):  # noqa: ANN201 - lazy import keeps the CLI light
    from daemon.control.client import ControlClient

    return ControlClient(get_config(args).data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image-engine", description="Keeps a photo library tagged and in order.")
    parser.add_argument("--config", help="config file (default: $IMAGE_ENGINE_CONFIG or the user config folder)")
    sub = parser.add_subparsers(dest="command", required=True)
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
    sub.add_parser("retry", help="queue failed jobs again")
    config = sub.add_parser("config", help="config file tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a config file without starting")
    check.add_argument("file")
    load_feature_commands()
    for extend in EXTENSIONS:
        extend(sub)
    return parser


EXTENSIONS: list[Callable[[Any], None]] = []


def load_feature_commands() -> None:
    """Import every module in daemon/commands once; each registers its parsers and handlers (keep them light)."""
    import importlib
    import pkgutil

    import daemon.commands

    for module in pkgutil.iter_modules(daemon.commands.__path__):
        importlib.import_module(f"daemon.commands.{module.name}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = args.command if args.command != "config" else f"config {args.config_command}"
    from daemon.control.client import ApiError, ServiceUnreachable

    try:
        return COMMANDS[name](args)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EXIT_CONFIG
    except ServiceUnreachable as exc:
        print(f"image-engine: {exc}. Start it with `image-engine run`.", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ApiError as exc:
        print(f"image-engine: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except EngineError as exc:
        print(f"image-engine: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 130


@command("config check")
def config_check(args: argparse.Namespace) -> int:
    config = load_config(Path(args.file))
    print(f"{args.file}: ok ({len(config.watch)} watched folder(s), data_dir={config.data_dir})")
    return 0


@command("run")
def run(args: argparse.Namespace) -> int:
    config = get_config(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return serve(config, stop)


def serve(config: Config, stop: threading.Event, on_started: Callable[[Any], None] | None = None) -> int:
    """The engine until `stop` is set: `image-engine run`, and the Windows service, both run exactly this.

    `on_started(app)` is called once the engine is up (the Windows service keeps the App for pause/continue).
    Under systemd (NOTIFY_SOCKET set) it reports READY, STATUS lines, watchdog pings and STOPPING.
    """
    from daemon import notify
    from daemon.app import App
    from daemon.logs import setup_logging
    from daemon.runlock import RunLock

    setup_logging(config.log_path, config.log.level, config.log.max_bytes, config.log.backups)
    lock = RunLock(config.data_dir / "engine.lock")
    if not lock.acquire():
        print(f"image-engine: another engine is already running with data folder {config.data_dir}", file=sys.stderr)
        return EXIT_RUNTIME
    try:
        app = App(config)
    except OSError as exc:
        lock.release()
        print(f"image-engine: cannot start: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    notifier = notify.attach(app)

    def ready() -> None:
        print(f"Image Engine {app.status().version} running (config: {config.source or 'defaults'})", file=sys.stderr)
        print(f"  data folder: {config.data_dir}", file=sys.stderr)
        for watch in config.watch:
            print(f"  watching ({watch.mode}): {watch.path}", file=sys.stderr)
        print(f"  library: {config.library.root}", file=sys.stderr)
        print(f"  log: {config.log_path}", file=sys.stderr)
        print(f"  control API: 127.0.0.1:{app.server.port} (token in {config.token_path})", file=sys.stderr)
        if on_started:
            on_started(app)
        if notifier:
            notifier.ready(notify.status_line(app.status().jobs, app.control.paused))

    try:
        app.run(stop, on_ready=ready, on_stopping=notifier.stopping if notifier else None)
    finally:
        if notifier:
            notifier.close()
        lock.release()
    return 0


@command("status")
def status(args: argparse.Namespace) -> int:
    data = client_for(args).get("/status")
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
    learning = data.get("learning") or {}
    if learning.get("state") not in (None, "idle"):
        print(
            f"learning: {learning['state']} {learning.get('keyword', '')} {learning.get('done', 0)}/{learning.get('total', 0)}"
        )
    if data["errors"]:
        print("last errors:")
        for error in data["errors"][:5]:
            print(f"  {error['path']}: {error['detail']}")
    return 0


@command("pause")
def pause(args: argparse.Namespace) -> int:
    client_for(args).post("/pause")
    print("paused: no new work starts; watching continues")
    return 0


@command("resume")
def resume(args: argparse.Namespace) -> int:
    client_for(args).post("/resume")
    print("resumed")
    return 0


@command("retry")
def retry(args: argparse.Namespace) -> int:
    data = client_for(args).post("/retry")
    print(f"queued {data['retried']} failed job(s) again")
    return 0


@command("scan")
def scan(args: argparse.Namespace) -> int:
    client = client_for(args)
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
        return EXIT_RUNTIME
    print(f"scanned {progress['done']} file(s): {progress['submitted']} new or changed, {progress['missing']} missing")
    return 0


@command("jobs")
def jobs(args: argparse.Namespace) -> int:
    query = f"?limit={args.limit}" + (f"&state={args.state}" if args.state else "")
    data = client_for(args).get("/jobs" + query)
    if args.json:
        print(json.dumps(data["jobs"], indent=2, default=str))
        return 0
    for job in data["jobs"]:
        why = job["error"] or job["wait_reason"] or ""
        print(
            f"{job['id']:>6}  {job['state']:<8} {job['stage']:<9} {job['path']}" + (f"\n        {why}" if why else "")
        )
    if not data["jobs"]:
        print("no jobs" + (f" in state {args.state}" if args.state else ""))
    return 0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


if __name__ == "__main__":
    sys.exit(main())
