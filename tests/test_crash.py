"""kill -9 at any moment loses nothing: after restart every file is processed exactly once."""

from __future__ import annotations

import shutil
import signal
import time

from tests.support import Engine, corpus, wait_for


def test_kill_9_during_a_batch_of_200_then_restart_processes_each_file_exactly_once(engine_factory) -> None:
    engine: Engine = engine_factory()
    sources = sorted((corpus() / "photos").glob("*.jpg")) + sorted((corpus() / "labelled").glob("*.jpg"))
    names = []
    for index in range(200):
        source = sources[index % len(sources)]
        name = f"{index:03d}_{source.name}"
        shutil.copy2(source, engine.drop / name)
        names.append(name)
    for target in (30, 60, 90):
        wait_for(
            lambda target=target: engine.status()["jobs"]["done"] >= target, 60, message=f"{target} done before a kill"
        )
        engine.stop(signal.SIGKILL)
        engine.start()
    engine.wait_idle(200, timeout=180)
    rows = engine.query(
        "SELECT files.path, COUNT(jobs.id) AS jobs, SUM(jobs.state = 'done') AS done FROM files"
        " JOIN jobs ON jobs.file_id = files.id AND jobs.state != 'superseded' GROUP BY files.id"
    )
    assert len(rows) == 200
    assert sorted(row["path"].rsplit("/", 1)[1] for row in rows) == sorted(names)
    assert all(row["jobs"] == 1 and row["done"] == 1 for row in rows), [dict(r) for r in rows if r["jobs"] != 1]
    results = engine.query("SELECT stage, COUNT(*) AS n FROM results GROUP BY stage")
    per_stage = {row["stage"]: row["n"] for row in results}  # every stage of the pipeline, each exactly once per file
    assert {"probe", "hash"} <= per_stage.keys() and set(per_stage.values()) == {200}, per_stage
    assert engine.query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('running', 'queued')")[0]["n"] == 0
    time.sleep(0.5)  # a non-event: a late duplicate job would be queued within a settle time (0.3 s); none may be
    assert engine.status()["jobs"]["done"] == 200


def test_sigterm_stops_within_seconds_and_releases_jobs(engine_factory) -> None:
    engine: Engine = engine_factory()
    sources = sorted((corpus() / "photos").glob("*.jpg"))
    for index, source in enumerate(sources * 3):
        shutil.copy2(source, engine.drop / f"{index}_{source.name}")
    wait_for(lambda: engine.status()["jobs"]["done"] >= 5, 60)
    started = time.monotonic()
    assert engine.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert engine.query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'")[0]["n"] == 0
    assert not (engine.data / "control.json").exists()
