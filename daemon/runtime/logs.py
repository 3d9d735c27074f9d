"""One JSON object per log line to a rotating file; a human rendering of the same records on the console.

Records carry fixed keys (ts, level, event, job, path, source, dest, stage, ms, error, detail) passed through `extra=`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import sys
from pathlib import Path

FIELDS = ("event", "job", "path", "source", "dest", "stage", "ms", "error", "detail")
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps with options builds one per call


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # One record reaches two handlers, and the file's rollover check formats it too: format it once.
        cached = getattr(record, "_json_line", None)
        if cached is not None:
            return cached
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name.rsplit(".", 1)[-1]),
            "msg": record.getMessage(),
        }
        for key in FIELDS[1:]:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        text = _ENCODER.encode(line)
        record._json_line = text
        return text


class LogFile(logging.handlers.RotatingFileHandler):
    """The stdlib's rotating file, less two stats of the log file for every line (its check for a log that is not a
    regular file: ours always is one); a line per queued file at 5,000 files/s made them a third of the intake."""

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - the stdlib's name
        if self.stream is None:
            self.stream = self._open()
        if self.maxBytes <= 0:
            return False
        self.stream.seek(0, 2)  # another writer may have appended (as the stdlib does)
        return self.stream.tell() + len(self.format(record)) + 1 >= self.maxBytes


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        parts = [stamp, f"{record.levelname:<7}", record.getMessage()]
        for key in ("path", "stage", "detail", "error"):
            value = getattr(record, key, None)
            if value is not None:
                parts.append(f"{key}={value}" if key != "path" else repr(str(value)))
        ms = getattr(record, "ms", None)
        if ms is not None:
            parts.append(f"{ms}ms")
        return " ".join(parts)


def setup_logging(
    log_path: Path | None, level: str = "info", max_bytes: int = 10_000_000, backups: int = 5, console: bool = True
) -> None:
    # No formatter of ours shows the caller's file, line or process: the logging HOWTO's "Optimization" switches
    # (finding the caller walks the stack on every record).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger("image_engine")
    root.setLevel(level.upper())
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = LogFile(log_path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        file_handler.setFormatter(JsonFormatter())
        root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(HumanFormatter() if sys.stderr.isatty() else JsonFormatter())
        root.addHandler(stream)
