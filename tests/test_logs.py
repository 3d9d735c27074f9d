"""The engine's log: one JSON object a line, rolled over at its size limit with the backups kept, errors with their
traceback; the same line on the console as in the file.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

from daemon.runtime.logs import setup_logging


@pytest.fixture
def engine_log():
    yield logging.getLogger("image_engine.test_logs")
    root = logging.getLogger("image_engine")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def test_the_log_rolls_over_at_its_limit_and_every_line_is_json(tmp_path: Path, engine_log, monkeypatch) -> None:
    console = io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)
    log_path = tmp_path / "logs" / "image-engine.log"
    setup_logging(log_path, max_bytes=4000, backups=2, console=True)
    for index in range(200):
        engine_log.info("queued", extra={"event": "queued", "job": index, "path": f"/photos/ünï {index}.jpg"})
    try:
        raise OSError("disk gone")
    except OSError:
        engine_log.exception("cannot queue files", extra={"event": "intake_error"})

    logs = sorted(log_path.parent.iterdir())
    assert [path.name for path in logs] == ["image-engine.log", "image-engine.log.1", "image-engine.log.2"]
    assert all(path.stat().st_size <= 4000 for path in logs)
    oldest_first = [*reversed(logs[1:]), logs[0]]
    lines = [line for path in oldest_first for line in path.read_text("utf-8").splitlines()]
    records = [json.loads(line) for line in lines]
    jobs = [record["job"] for record in records if record["event"] == "queued"]
    assert jobs == list(range(200 - len(jobs), 200))  # the newest lines kept, in order, none lost between files
    assert records[-2]["path"] == "/photos/ünï 199.jpg" and records[-2]["level"] == "info"
    assert records[-1]["event"] == "intake_error" and "OSError: disk gone" in records[-1]["error"]
    assert console.getvalue().splitlines()[-len(lines) :] == lines  # the console says the same, line for line
