"""The one long-lived exiftool process (`-stay_open` through pyexiftool): batched commands, restarted if it dies.

Only this module starts exiftool. Callers share one process per `ExifTool`; a lock serialises round trips.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import exiftool as pyexiftool

from daemon.tools.trailers import has_metadata_trailer

log = logging.getLogger("image_engine.exiftool")

CONFIG_FILE = Path(__file__).with_name("image_engine.exiftool.config")
TEMP_SUFFIX = "_exiftool_tmp"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
MAX_STRIKES = 2  # a command in flight when exiftool died this many times fails instead of being retried
# File names go to exiftool as bytes (os.fsencode); on Windows those are UTF-8 and exiftool must be told.
COMMON_ARGS = ["-charset", "utf8", *(["-charset", "filename=utf8"] if os.name == "nt" else [])]
FAST_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".tif", ".tiff"})


class ExifToolError(Exception):
    """exiftool cannot be started (not installed, not exiftool) or does not answer."""


@dataclass
class Command:
    """One exiftool command. `target`: the file it writes; `creates`: the target did not exist before."""

    args: Sequence[str | bytes]
    target: Path | None = None
    creates: bool = False


@dataclass
class Outcome:
    """What one command printed, and its exit status (-1: exiftool died or timed out while running it)."""

    status: int
    stdout: str
    stderr: str

    def lines(self, kind: str) -> list[str]:
        return [line.strip() for line in self.stderr.splitlines() if line.strip().startswith(kind)]

    @property
    def errors(self) -> list[str]:
        return self.lines("Error") if self.status != -1 else [self.stderr]

    @property
    def warnings(self) -> list[str]:
        return self.lines("Warning")

    @property
    def message(self) -> str:
        """The most telling line of stderr, for a user."""
        found = self.errors or self.warnings or [self.stderr.strip() or self.stdout.strip()]
        return found[0]


def find_executable(configured: str = "") -> str | None:
    """The exiftool to run: `configured` (a path or a command name), or `exiftool` on PATH; None when absent."""
    name = configured or "exiftool"
    if os.sep in name or (os.altsep and os.altsep in name):
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name)


def fast_option(path: Path) -> list[str]:
    """-fast2 skips maker notes (a third of the read time on camera JPEGs), but also stops at PNG's IDAT and
    HEIC's mdat, and -fast at a GIF's first comment, where XMP may follow: so only for JPEG and TIFF."""
    return ["-fast2"] if path.suffix.lower() in FAST_SUFFIXES and not has_metadata_trailer(path) else []


def temp_file_of(target: Path) -> Path:
    """The temporary file exiftool writes beside `target` before renaming it over the original."""
    return target.with_name(target.name + TEMP_SUFFIX)


class _Died(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Drain:
    """Reads one of exiftool's output pipes on its own thread (select() does not work on Windows pipes)."""

    def __init__(self, stream: Any, name: str, changed: threading.Condition):
        self.buffer = bytearray()
        self.closed = False
        self.changed = changed
        self.thread = threading.Thread(target=self._read, args=(stream,), name=name, daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        while True:
            try:
                chunk = os.read(stream.fileno(), 65536)
            except (OSError, ValueError):
                chunk = b""
            with self.changed:
                if chunk:
                    self.buffer += chunk
                else:
                    self.closed = True
                self.changed.notify_all()
            if not chunk:
                return


class _StayOpen(pyexiftool.ExifTool):
    """pyexiftool's process start-up and version check, with output read by two threads that notice a dead or
    stuck exiftool. (pyexiftool's own reader loops forever on a closed pipe; this one raises, so the process can
    be restarted.)
    """

    timeout: float = 120.0
    _drains: tuple[Any, _Drain, _Drain] | None = None

    def execute(self, *params: str | bytes, raw_bytes: bool = False) -> str | bytes:
        outcome = next(self.exchange([list(params)]))
        self._last_stdout, self._last_stderr, self._last_status = outcome.stdout, outcome.stderr, outcome.status
        return outcome.stdout.encode() if raw_bytes else outcome.stdout

    def exchange(self, commands: list[Sequence[str | bytes]]) -> Iterator[Outcome]:
        """Send every command at once; yield each command's outcome as it completes, in order."""
        process = self._process
        if process is None or process.poll() is not None:
            raise _Died("exiftool is not running")
        if self._drains is None or self._drains[0] is not process:
            changed = threading.Condition()
            self._drains = (
                process,
                _Drain(process.stdout, "exiftool-stdout", changed),
                _Drain(process.stderr, "exiftool-stderr", changed),
            )
        _, out, err = self._drains
        base = random.randint(10_000_000, 99_999_999) * 1000
        payload = bytearray()
        for index, args in enumerate(commands):
            for arg in args:
                encoded = arg if isinstance(arg, bytes) else arg.encode("utf-8")
                if b"\n" in encoded or b"\r" in encoded:
                    raise ValueError(f"exiftool argument with a line break: {encoded[:60]!r}")
                payload += encoded + b"\n"
            payload += b"-echo4\n=${status}=post%d\n-execute%d\n" % (base + index, base + index)
        try:  # the drains keep exiftool's output flowing, so it keeps reading: a blocking write cannot deadlock
            process.stdin.write(bytes(payload))
            process.stdin.flush()
        except (OSError, ValueError) as exc:
            raise _Died(f"exiftool stopped accepting commands ({exc})") from None
        for index in range(len(commands)):
            ready = f"{{ready{base + index}}}".encode()
            post = f"post{base + index}".encode()
            deadline = time.monotonic() + self.timeout
            with out.changed:
                while ready not in out.buffer or post not in err.buffer:
                    if out.closed or err.closed:
                        raise _Died(f"exiftool stopped (exit status {process.poll()})")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _Died(f"exiftool did not answer within {self.timeout:.0f} s")
                    out.changed.wait(min(remaining, 1.0))
                out_end, err_end = out.buffer.index(ready), err.buffer.index(post)
                stdout, stderr = bytes(out.buffer[:out_end]), bytes(err.buffer[:err_end])
                del out.buffer[: out_end + len(ready)]
                del err.buffer[: err_end + len(post)]
            err_text = stderr.decode("utf-8", "replace").rstrip()
            status_at = err_text.rstrip("=").rfind("=")
            status = int(err_text[status_at + 1 :].rstrip("=")) if status_at >= 0 else 1
            yield Outcome(status, stdout.decode("utf-8", "replace").strip(), err_text[:status_at].strip())


class ExifTool:
    """The shared exiftool service: started on first use, restarted when it dies, closed by `close()`."""

    def __init__(self, executable: str = "", config_file: Path = CONFIG_FILE, timeout: float = 120.0):
        self.executable = executable
        self.config_file = config_file
        self.timeout = timeout
        self.restarts = 0
        self._stay: _StayOpen | None = None
        self._lock = threading.RLock()
        # pyexiftool asks Linux to SIGTERM exiftool when the *thread* that started it ends (PR_SET_PDEATHSIG):
        # starting it from this long-lived thread, not from whichever caller came first, keeps it alive.
        self._launcher: ThreadPoolExecutor | None = None

    @property
    def path(self) -> str | None:
        return find_executable(self.executable)

    @property
    def pid(self) -> int | None:
        """The running process's id (no lock: a test or a status call may ask while a batch runs)."""
        stay = self._stay
        popen = stay._process if stay is not None else None
        return popen.pid if popen is not None else None

    @property
    def version(self) -> str:
        with self._lock:
            return self._ensure_running().version

    def _ensure_running(self) -> _StayOpen:
        stay = self._stay
        if stay is not None and stay._process is not None and stay._process.poll() is None:
            return stay
        if stay is not None:
            self.restarts += 1
            log.warning("exiftool restarted", extra={"event": "exiftool_restart", "error": "the process had stopped"})
        self._discard()
        path = self.path
        if path is None:
            raise ExifToolError(f"exiftool not found ({self.executable or 'exiftool on PATH'})")
        stay = _StayOpen(executable=path, common_args=COMMON_ARGS, config_file=str(self.config_file), encoding="utf-8")
        stay.timeout = self.timeout
        if self._launcher is None:
            self._launcher = ThreadPoolExecutor(1, thread_name_prefix="exiftool-launcher")
        try:
            self._launcher.submit(stay.run).result()
        except (OSError, RuntimeError, ValueError, pyexiftool.exceptions.ExifToolException, _Died) as exc:
            raise ExifToolError(f"cannot start exiftool ({path}): {exc}") from None
        self._stay = stay
        log.info("exiftool started", extra={"event": "exiftool_started", "detail": f"{path} pid {self.pid}"})
        return stay

    def _discard(self) -> None:
        stay, self._stay = self._stay, None
        if stay is None or stay._process is None:
            return
        popen: subprocess.Popen[bytes] = stay._process
        if popen.poll() is None:
            popen.kill()
        popen.wait()
        for stream in (popen.stdin, popen.stdout, popen.stderr):
            if stream is not None:
                stream.close()
        stay._flag_running_false()

    def run(self, commands: list[Command]) -> list[Outcome]:
        """Run `commands` in as few round trips as possible; one outcome each, in order.

        If exiftool dies (or hangs) the unfinished commands run again on a fresh process, after the temp
        files of their targets are removed; the command that was running when it died twice fails alone.
        """
        results: list[Outcome | None] = [None] * len(commands)
        strikes = [0] * len(commands)
        pending = list(range(len(commands)))
        with self._lock:
            while pending:
                stay = self._ensure_running()
                try:
                    for position, outcome in enumerate(stay.exchange([commands[i].args for i in pending])):
                        results[pending[position]] = outcome
                    pending = []
                except _Died as died:
                    pending = [i for i in pending if results[i] is None]
                    culprit = pending[0]
                    strikes[culprit] += 1
                    self._discard()
                    self.restarts += 1
                    log.warning(
                        "exiftool restarted",
                        extra={
                            "event": "exiftool_restart",
                            "path": str(commands[culprit].target or ""),
                            "error": died.reason,
                        },
                    )
                    if strikes[culprit] >= MAX_STRIKES:
                        results[culprit] = Outcome(-1, "", f"{died.reason} while processing this file, twice")
                        pending.pop(0)
                    for index in pending:
                        self._clean_after_crash(commands[index])
        return [outcome for outcome in results if outcome is not None]

    @staticmethod
    def _clean_after_crash(command: Command) -> None:
        if command.target is None:
            return
        temp = temp_file_of(command.target)
        if temp.exists():
            temp.unlink()
        if command.creates and command.target.exists():
            command.target.unlink()

    def read(self, paths: list[Path], tags: Sequence[str]) -> list[dict[str, list[str]] | Outcome]:
        """Each file's tags (`GROUP1:Name` -> values, lists flattened), or the failed Outcome saying why."""
        return self.read_each([(path, tags) for path in paths])

    def read_each(self, requests: list[tuple[Path, Sequence[str]]]) -> list[dict[str, list[str]] | Outcome]:
        """Like `read`, with its own tag list per file. One command per file, all in one round trip: a bad file
        fails alone. `-X` keeps values as text (exiftool's JSON turns "TRUE" into true and "1.50" into 1.5).
        """
        commands = [
            Command(["-X", "-a", *fast_option(path), *(f"-{tag}" for tag in tags), os.fsencode(path)])
            for path, tags in requests
        ]
        results: list[dict[str, list[str]] | Outcome] = []
        for outcome in self.run(commands):
            if outcome.status != 0 or not outcome.stdout:
                results.append(outcome)
                continue
            try:
                results.append(parse_rdf(outcome.stdout))
            except ElementTree.ParseError as exc:
                results.append(Outcome(1, "", f"Error: exiftool output unreadable ({exc})"))
        return results

    def close(self) -> None:
        with self._lock:
            stay = self._stay
            if stay is not None and stay._process is not None and stay._process.poll() is None:
                try:
                    stay.terminate(timeout=5)
                    self._stay = None
                except (OSError, subprocess.SubprocessError):
                    pass
            self._discard()
            if self._launcher is not None:
                self._launcher.shutdown(wait=True)
                self._launcher = None


def parse_rdf(text: str) -> dict[str, list[str]]:
    """exiftool `-X` output for one file -> {"XMP-dc:Subject": [...], "IPTC:Keywords": [...], ...}."""
    root = ElementTree.fromstring(text)
    tags: dict[str, list[str]] = {}
    for description in root.iter(f"{RDF}Description"):
        for element in description:
            namespace, _, name = element.tag[1:].partition("}")
            group = namespace.rstrip("/").split("/")[-2]
            items = [li.text or "" for li in element.iter(f"{RDF}li")]
            values = items if items else [element.text or ""]
            tags.setdefault(f"{group}:{name}", []).extend(values)
    return tags
