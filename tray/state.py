"""The tray's view of the service: poll the control API, derive what the icon, tooltip and menu show.

Pure logic, no display and no pystray: tray/app.py draws whatever `View` and `menu_entries` say.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from daemon.control.client import ApiError, ServiceUnreachable

KINDS = ("idle", "working", "paused", "error", "unreachable")
RECENT_FAILURE_SECONDS = 3600.0  # a failure this recent turns the icon red (or adds the red badge while working)
NOTICE_SECONDS = 30.0  # how long the outcome of a menu action stays in the menu
TOOLTIP_LIMIT = 127  # Windows truncates tray tooltips at 128 characters
PROGRESS_STEPS = 12  # the ring is redrawn only when it moves by one step


class Client(Protocol):
    def get(self, path: str) -> Any: ...

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class View:
    """Everything the tray shows, derived from one status answer (or from the failure to get one)."""

    kind: str
    queued: int = 0
    running: int = 0
    waiting: int = 0
    done_today: int = 0
    failed: int = 0
    failed_recently: bool = False
    progress: float | None = None  # 0..1 through the current batch, while working
    gpu: str | None = None
    problem: str = ""  # why the service cannot be reached
    notice: str = ""  # outcome of the last menu action, for a while

    @property
    def paused(self) -> bool:
        return self.kind == "paused"

    @property
    def reachable(self) -> bool:
        return self.kind != "unreachable"

    @property
    def progress_step(self) -> int:
        return round((self.progress or 0.0) * PROGRESS_STEPS)

    @property
    def picture(self) -> tuple[str, int, bool]:
        """What the icon image depends on; the image is redrawn only when this changes."""
        step = self.progress_step if self.kind == "working" else 0
        return self.kind, step, self.failed_recently and self.kind != "error"

    @property
    def headline(self) -> str:
        if self.kind == "unreachable":
            return "service not running" if _not_running(self.problem) else "service not reachable"
        if self.kind == "working":
            return f"working, {round((self.progress or 0) * 100)}%"
        if self.kind == "error":
            return f"{self.failed} failed"
        return self.kind

    @property
    def tooltip(self) -> str:
        lines = [f"Image Engine: {self.headline}"]
        if self.reachable:
            lines.append(f"{self.queued + self.running} queued · {self.done_today} done today · {self.failed} failed")
            if self.waiting:
                lines.append(f"{self.waiting} waiting")
            if self.gpu:
                lines.append(self.gpu)
        text = "\n".join(lines)
        return text if len(text) <= TOOLTIP_LIMIT else text[: TOOLTIP_LIMIT - 1] + "…"

    @property
    def status_line(self) -> str:
        if self.kind == "unreachable":
            if _not_running(self.problem):
                return "Service not running"
            return _shorten(f"Service not reachable: {self.problem}", 90)
        backlog = self.queued + self.running
        parts = {
            "idle": ["Idle", f"{self.done_today} done today"],
            "working": ["Working", f"{backlog} queued", f"{round((self.progress or 0) * 100)}%"],
            "paused": ["Paused", f"{backlog} queued"],
            "error": [f"{self.failed} failed recently", f"{self.done_today} done today"],
        }[self.kind]
        if self.failed and self.kind != "error":
            parts.append(f"{self.failed} failed")
        return " · ".join(parts)


@dataclass(frozen=True)
class Entry:
    """One menu line: a label, the action it triggers (None: a status line), whether it can be clicked."""

    label: str
    action: str | None = None
    enabled: bool = True


SEPARATOR = Entry("-", None, False)
# Actions the menu can ask for; tray.actions.Actions has a method of each name.
ACTIONS = ("pause", "resume", "rescan", "open_app", "open_drop", "open_library", "open_log", "show_failed", "quit")


def menu_entries(view: View) -> list[Entry]:
    """The menu, top to bottom. Service commands are greyed out while the service cannot be reached."""
    entries = [Entry(view.status_line, None, False)]
    if view.notice:
        entries.append(Entry(view.notice, None, False))
    live = view.reachable
    failed = f"Show failed files ({view.failed})" if live else "Show failed files"
    entries += [
        SEPARATOR,
        Entry("Resume", "resume", live) if view.paused else Entry("Pause", "pause", live),
        Entry("Rescan now", "rescan", live),
        SEPARATOR,
        Entry("Open Image Engine", "open_app", live),
        Entry("Open drop folder", "open_drop"),
        Entry("Open library", "open_library"),
        Entry("Open log", "open_log"),
        Entry(failed, "show_failed", live),
        SEPARATOR,
        Entry("Quit tray", "quit"),
    ]
    return entries


def keyboard_steps(entries: list[Entry], action: str) -> int:
    """How many Down presses select `action` in a freshly opened menu (greyed-out lines and separators are skipped)."""
    clickable = [entry.action for entry in entries if entry.enabled and entry.action]
    return clickable.index(action) + 1


def derive(status: dict[str, Any], now: float, batch_start: int | None = None) -> View:
    """A View from a `GET /v1/status` answer; `batch_start` is the done count when the current backlog began."""
    jobs = status.get("jobs") or {}
    queued, running, done = int(jobs.get("queued", 0)), int(jobs.get("running", 0)), int(jobs.get("done", 0))
    failed = int(jobs.get("failed", 0))
    recent = failed > 0 and any(
        error.get("event") == "job_failed" and float(error.get("at") or 0) >= now - RECENT_FAILURE_SECONDS
        for error in status.get("errors") or []
    )
    backlog = queued + running
    progress = None
    if backlog:
        finished = max(0, done - (done if batch_start is None else batch_start))
        progress = finished / (finished + backlog)
    if status.get("state") == "paused":
        kind = "paused"
    elif backlog:
        kind = "working"
    elif recent:
        kind = "error"
    else:
        kind = "idle"
    return View(
        kind=kind,
        queued=queued,
        running=running,
        waiting=int(jobs.get("waiting", 0)),
        done_today=int(status.get("done_today", 0)),
        failed=failed,
        failed_recently=recent,
        progress=progress,
        gpu=gpu_text(status.get("gpu")),
    )


def next_batch_start(previous: int | None, status: dict[str, Any]) -> int | None:
    """The done count where the current backlog began: set when work appears, kept while it lasts, cleared after."""
    jobs = status.get("jobs") or {}
    done = int(jobs.get("done", 0))
    if not int(jobs.get("queued", 0)) + int(jobs.get("running", 0)):
        return None
    if previous is None or done < previous:  # a new backlog (or a new database) starts the ring from empty
        return done
    return previous


def gpu_text(gpu: Any) -> str | None:
    """A short GPU line from the status `gpu` key, whatever shape the engine reports it in."""
    if gpu in (None, "", "none", False, {}):
        return None
    if isinstance(gpu, bool):
        return "GPU in use"
    if isinstance(gpu, int | float):
        return f"GPU {gpu:.0f}%"
    if isinstance(gpu, str):
        return _shorten(f"GPU: {gpu}", 60)
    if isinstance(gpu, dict):
        name = gpu.get("name") or gpu.get("device") or "GPU"
        for key in ("utilization", "util", "gpu_util", "load", "percent"):
            if isinstance(gpu.get(key), int | float):
                return _shorten(f"{name} {gpu[key]:.0f}%", 60)
        state = gpu.get("state") or gpu.get("status")
        return _shorten(f"{name}: {state}" if state else str(name), 60)
    return _shorten(f"GPU: {gpu}", 60)


class Poller:
    """Polls the service and keeps what one status answer cannot say: where the current batch began, notices."""

    def __init__(self, client: Client, clock: Callable[[], float] = time.time):
        self.client = client
        self.clock = clock
        self.batch_start: int | None = None
        self._notice = ""
        self._notice_until = 0.0
        self.view = View("unreachable", problem="not polled yet")

    def poll(self) -> View:
        now = self.clock()
        try:
            status = self.client.get("/status")
            if not isinstance(status, dict):
                raise ValueError(f"unexpected status answer: {status!r}")
            self.batch_start = next_batch_start(self.batch_start, status)
            view = derive(status, now, self.batch_start)
        except ServiceUnreachable as exc:
            self.batch_start = None
            view = View("unreachable", problem=str(exc))
        except (ApiError, ValueError, TypeError, AttributeError) as exc:
            self.batch_start = None
            view = View("unreachable", problem=str(exc))
        self.view = replace(view, notice=self._notice if now < self._notice_until else "")
        return self.view

    def notify(self, text: str) -> None:
        self._notice, self._notice_until = _shorten(text, 90), self.clock() + NOTICE_SECONDS
        self.view = replace(self.view, notice=self._notice)


def _not_running(problem: str) -> bool:
    return problem.startswith("the service is not running") or "refused" in problem.lower()


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
