"""Test support: the shared corpus (skip or fail when absent), a real engine subprocess, waiting helpers.

No mocks of our own code: the engine runs as `python -m daemon run` against temp folders and a real SQLite file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("IMAGE_ENGINE_CORPUS", REPO.parent / "shared" / "corpus"))
MODELS = Path(os.environ.get("IMAGE_ENGINE_MODELS", REPO.parent / "shared" / "models"))
REQUIRE_CORPUS = os.environ.get("IMAGE_ENGINE_REQUIRE_CORPUS") == "1"


def need(path: Path, what: str) -> Path:
    """Skip (or, in CI with IMAGE_ENGINE_REQUIRE_CORPUS=1, fail) when shared test data is absent."""
    if not path.exists():
        message = f"{what} not found at {path}: clone ../shared beside the repo (set IMAGE_ENGINE_CORPUS to override)"
        if REQUIRE_CORPUS:
            pytest.fail(message)
        pytest.skip(message)
    return path


def corpus() -> Path:
    return need(CORPUS, "the shared photo corpus")


def corpus_rows() -> list[dict[str, str]]:
    import csv

    with open(corpus() / "manifest.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or condition} (last: {last!r})")


def write_config(folder: Path, extra: str = "", **engine: Any) -> Path:
    drop, library, data = folder / "drop", folder / "library", folder / "data"
    settings = {"settle_seconds": 0.3, "retry_backoff_seconds": 0.2, **engine}
    engine_lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    if "[tagging]" not in extra:  # AI tagging loads torch and a model (~8 s per engine): only where a test asks
        extra = f"{extra}\n[tagging]\nenabled = false\n"
    if "[people]" not in extra:  # faces load their models on first use: only where a test asks
        extra += "\n[people]\nenabled = false\n"
    if "[rename]" not in extra:
        extra += "\n[rename]\nenabled = false\n"  # files stay in the drop folder unless a test turns filing on
    text = (
        f'data_dir = "{data}"\n\n[[watch]]\npath = "{drop}"\nmode = "drop"\n\n[library]\nroot = "{library}"\n\n'
        f"[engine]\n{engine_lines}\n\n{extra}\n"
    )
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Engine:
    """The real service as a subprocess, plus the CLI and direct read-only looks at its database."""

    def __init__(self, folder: Path, config: Path):
        self.folder = folder
        self.config = config
        self.drop = folder / "drop"
        self.library = folder / "library"
        self.data = folder / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "engine.out"
        self.prefix: list[str] = []  # e.g. setpriv to drop root's permission override

    def start(self, wait: bool = True) -> Engine:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        printed_before = self.log.stat().st_size if self.log.exists() else 0
        self._log_handle = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "daemon", "--config", str(self.config), "run"],
            cwd=REPO,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            # The engine prints its API address once it serves; the CLI is asked only then (each CLI call is a
            # Python start-up, which would compete with the engine's own).
            def printed_started() -> bool:
                with open(self.log, "rb") as printed:
                    printed.seek(printed_before)
                    return b"  control API: " in printed.read()

            wait_for(lambda: self.process.poll() is not None or printed_started(), 30, 0.05, "engine start")
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            wait_for(lambda: self.cli("status").returncode == 0, 30, message="engine answers the CLI")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self._log_handle.close()
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "daemon", "--config", str(self.config), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def status(self) -> dict[str, Any]:
        """What `status --json` prints, read where the CLI and the tray read it: the control API's /status. Asked
        directly, since a wait polling through the CLI started a Python process four times a second, about half a
        core beside the engine; `cli_status` asks through the CLI."""
        from daemon.control.client import ControlClient

        return ControlClient(self.data, timeout=30).get("/status")

    def cli_status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.data / 'image-engine.db'}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = self.db()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def job_states(self) -> dict[str, str]:
        rows = self.query(
            "SELECT files.path, jobs.state FROM jobs JOIN files ON files.id = jobs.file_id"
            " WHERE jobs.state != 'superseded'"
        )
        return {row["path"]: row["state"] for row in rows}

    def wait_idle(self, expected: int, timeout: float = 60.0) -> dict[str, int]:
        """The job counts once `expected` jobs have finished and none is queued or running, as the CLI says them."""

        def settled(jobs: dict[str, int]) -> bool:
            return jobs["done"] + jobs["failed"] >= expected and jobs["queued"] + jobs["running"] == 0

        def settled_for_the_cli() -> dict[str, int] | None:
            if not settled(self.status()["jobs"]):
                return None
            jobs = self.cli_status()["jobs"]
            return jobs if settled(jobs) else None

        return wait_for(settled_for_the_cli, timeout, 0.25, f"{expected} jobs finished")


def copy_in(sources: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in sources:
        target = folder / source.name
        shutil.copy2(source, target)
        copied.append(target)
    return copied


def exiftool_json(*paths: Path, args: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = subprocess.run(["exiftool", "-j", "-n", *args, *map(str, paths)], capture_output=True, text=True)
    return json.loads(result.stdout or "[]")
