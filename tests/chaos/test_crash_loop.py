"""A crash loop while the tagging model loads is not the photo's fault: the real engine killed (kill -9) a dozen
times with a job claimed at `tag` but the model not loaded yet, then left to run, tags and finishes the photo.
"""

from __future__ import annotations

import json
import shutil
import signal

import pytest

from daemon.store import queue
from tests.support import Engine, corpus, wait_for

pytestmark = pytest.mark.chaos


def model_loaded(engine: Engine) -> bool:
    log = engine.data / "logs" / "image-engine.log"
    return log.exists() and any(
        json.loads(line).get("event") == "model_loaded" for line in log.read_text().splitlines()
    )


def test_kill_9_while_the_model_loads_never_fails_the_photo(engine_factory, ledger) -> None:
    engine: Engine = engine_factory('[tagging]\nbackend = "imagenet"\n', start=False)
    engine.drop.mkdir(parents=True)
    shutil.copyfile(corpus() / "labelled" / "felix_608.jpg", engine.drop / "felix.jpg")
    kills = queue.MAX_CLAIMS + 2
    for _ in range(kills):
        engine.start()
        (row,) = wait_for(
            lambda: engine.query(
                "SELECT state, error FROM jobs WHERE stage = 'tag' AND state IN ('running', 'failed')"
            ),
            60,
            0.05,
            "the job claimed at tag",
        )
        assert row["state"] == "running", row["error"]  # before: "the worker stopped 10 times ..."
        assert not model_loaded(engine), "the model loaded before the kill: this machine is too fast for the test"
        engine.stop(signal.SIGKILL)
        ledger.faults_injected += 1
    (claims,) = engine.query("SELECT claims FROM jobs")
    assert claims[0] >= queue.MAX_CLAIMS  # before: each of these deaths counted against the photo
    engine.start()
    engine.wait_idle(1, timeout=120)
    rows = engine.query("SELECT state, error FROM jobs")
    assert [tuple(row) for row in rows] == [("done", None)]
    # Tagged by the model (its keywords may all be under the threshold: format keywords are off by default).
    tagged = engine.query("SELECT model FROM tagging")
    assert [row["model"] for row in tagged] == ["imagenet:efficientnet-lite0"]
    ledger.files_checked += 1
