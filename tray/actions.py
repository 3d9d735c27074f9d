"""What the menu items do: service commands over the control API, and opening folders, the log and a failed-files list.

Each action returns a short line for the menu, or raises ActionFailed with the reason in words.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.control.client import ApiError, ServiceUnreachable
from tray.state import Client

Opener = Callable[[Path | str], None]  # a folder, a file or a URL


class ActionFailed(Exception):
    """A menu action could not be done; the message is shown in the menu."""


@dataclass
class Places:
    """Folders and files the menu opens, from the same config the service reads."""

    data_dir: Path
    drop: list[Path] = field(default_factory=list)
    library: Path | None = None
    log: Path | None = None


def open_path(path: Path | str) -> None:
    """Open a folder or file in the user's default application, without waiting for it."""
    if sys.platform == "win32":
        os.startfile(str(path))  # type: ignore[attr-defined]  # Windows only
        return
    command = ["open", str(path)] if sys.platform == "darwin" else ["xdg-open", str(path)]
    try:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ActionFailed(f"cannot open {path}: {command[0]} not found (install xdg-utils)") from None


class Actions:
    """The menu's actions against one service (through `client`) and one desktop (through `opener`)."""

    def __init__(self, client: Client, places: Places, opener: Opener = open_path):
        self.client = client
        self.places = places
        self.opener = opener
        self._failed_list: Path | None = None

    def perform(self, name: str) -> str:
        try:
            return getattr(self, name)()
        except ServiceUnreachable as exc:
            raise ActionFailed(f"{_title(name)} failed: {exc}") from None
        except ApiError as exc:
            raise ActionFailed(f"{_title(name)} failed: {exc}") from None
        except OSError as exc:
            raise ActionFailed(f"{_title(name)} failed: {exc}") from None

    def pause(self) -> str:
        self.client.post("/pause")
        return "Paused: no new work starts"

    def resume(self) -> str:
        self.client.post("/resume")
        return "Resumed"

    def rescan(self) -> str:
        self.client.post("/scan")
        return "Rescan started"

    def open_app(self) -> str:
        """The review app in the browser, through a one-time login link (xdg-open / open take URLs too)."""
        self.opener(self.client.post("/ui/login")["url"])
        return "Opened Image Engine in the browser"

    def open_drop(self) -> str:
        if not self.places.drop:
            raise ActionFailed('no drop folder is configured ([[watch]] with mode = "drop")')
        return self._open(self.places.drop[0], "drop folder")

    def open_library(self) -> str:
        if self.places.library is None:
            raise ActionFailed("no library folder is configured")
        return self._open(self.places.library, "library")

    def open_log(self) -> str:
        if self.places.log is None:
            raise ActionFailed("no log file is configured")
        return self._open(self.places.log, "log")

    def show_failed(self) -> str:
        jobs = self.client.get("/jobs?state=failed&limit=1000")["jobs"]
        path = self._write_failed_list(jobs)
        self.opener(path)
        return f"Opened the list of {len(jobs)} failed file(s)"

    def forget(self) -> None:
        """Remove the temporary failed-files list (at exit)."""
        if self._failed_list is not None:
            self._failed_list.unlink(missing_ok=True)
            self._failed_list = None

    def _open(self, path: Path, what: str) -> str:
        if not path.exists():
            raise ActionFailed(f"the {what} {path} does not exist yet")
        self.opener(path)
        return f"Opened the {what}"

    def _write_failed_list(self, jobs: list[dict[str, Any]]) -> Path:
        self.forget()  # one list at a time; the previous one has long been read by its viewer
        handle, name = tempfile.mkstemp(prefix="image-engine-failed-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(failed_report(jobs, time.time()))
        self._failed_list = Path(name)
        return self._failed_list


def failed_report(jobs: list[dict[str, Any]], now: float) -> str:
    """The failed-files listing a person reads: one block per file, with the stage and the reason."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(now))
    lines = [f"Image Engine: {len(jobs)} failed file(s), as of {stamp}", ""]
    if not jobs:
        lines.append("No failed files.")
    for job in jobs:
        when = job.get("updated_at")
        at = time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if isinstance(when, int | float) else "?"
        lines.append(str(job.get("path")))
        lines.append(f"    {job.get('stage')} stage, {job.get('attempts')} attempt(s), last at {at}")
        lines.append(f"    {job.get('error') or 'no reason recorded'}")
        lines.append("")
    lines.append("Fix or replace a file and it is processed again; `image-engine retry` queues them all again.")
    return "\n".join(lines) + "\n"


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()
