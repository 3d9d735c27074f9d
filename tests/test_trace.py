"""Logs that trace a photo: every event of a job joins by `job`, `filed` says from where to where, `scan_done`
is a JSON object, and `image-engine jobs --trace PATH` tells one photo's story with the engine running or not.
"""

from __future__ import annotations

import json
import shutil

from tests.support import Engine, corpus

RENAME = '[rename]\nenabled = true\ntemplate = "{taken:%Y}/{taken:%Y%m%d_%H%M%S}{counter}.{ext}"\n'


def log_records(engine: Engine) -> list[dict]:
    return [json.loads(line) for line in (engine.data / "logs" / "image-engine.log").read_text().splitlines()]


def test_a_filed_photo_can_be_traced_from_its_old_and_new_name(engine_factory) -> None:
    engine: Engine = engine_factory(RENAME)
    dropped = engine.drop / "IMG_0001.jpg"
    shutil.copyfile(corpus() / "photos" / "Apple iPhone 4.jpg", dropped)
    engine.wait_idle(1)
    filed = engine.library / "2011" / "20110113_143339.jpg"
    assert filed.exists() and not dropped.exists()
    (job,) = (row["id"] for row in engine.query("SELECT id FROM jobs"))

    records = log_records(engine)
    queued = [r for r in records if r["event"] == "queued"]
    assert [(r["job"], r["path"]) for r in queued] == [(job, str(dropped))]
    (filing,) = [r for r in records if r["event"] == "filed"]
    assert (filing["job"], filing["source"], filing["dest"]) == (job, str(dropped), str(filed))
    assert any(r["event"] == "job_done" and r["job"] == job for r in records)
    scans = [r for r in records if r["event"] == "scan_done"]
    assert scans and all(isinstance(r["detail"], dict) and r["detail"]["state"] == "done" for r in scans)

    running = engine.cli("jobs", "--trace", str(dropped))
    assert running.returncode == 0, running.stderr
    lines = running.stdout.splitlines()
    assert lines[0] == str(dropped)
    assert f"  file: {filed} (present)" in lines and f"  job {job}: done at metadata" in lines
    story = "\n".join(lines)
    for expected in (
        f"log   queued job {job} {dropped} detail: new",
        f"log   filed job {job} {dropped} -> {filed}",
        f"store job {job} probe: ok",
        f"store job {job} move done: {dropped} -> {filed}",
        f"store job {job} rename: ok",
        f"store job {job} metadata: ok",
        f"log   job_done job {job} [metadata]",
    ):
        assert expected in story, story
    events = [line.split()[3] for line in lines[lines.index("") + 1 :] if line.split()[2] == "log"]
    assert events.index("queued") < events.index("filed") < events.index("job_done"), story
    print(story)

    engine.stop()
    stopped = engine.cli("jobs", "--trace", str(filed))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines()[1:] == lines[1:]  # the same story from the new name, service stopped
    as_json = json.loads(engine.cli("jobs", "--trace", str(filed), "--json").stdout)
    assert as_json["store"]["jobs"][0]["id"] == job and any(r["event"] == "filed" for r in as_json["log"])

    unknown = engine.cli("jobs", "--trace", str(engine.drop / "never.jpg"))
    assert unknown.returncode == 1 and "nothing known about" in unknown.stdout
