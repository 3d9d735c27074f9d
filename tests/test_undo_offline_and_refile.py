"""`image-engine undo` (and `jobs`) with the service stopped work on the store under the run lock; undo says that
files moved back stay put until they change, and `--refile` queues them to be filed again (offline: once the
service runs)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import Engine, copy_in, wait_for
from tests.test_rename import journal_rows, rename_section, small_dated_jpegs

TEMPLATE = "{taken:%Y}/{taken:%Y-%m-%d}/{taken:%Y%m%d_%H%M%S}{counter}.{ext}"
STAY_PUT = "files moved back are not filed again until they change; `undo --refile` queues them again"


def filed(engine: Engine) -> list[str]:
    return sorted(path.name for path in engine.library.rglob("*.jpg"))


def test_undo_without_the_service_then_refile_with_and_without_it(engine_factory) -> None:
    engine: Engine = engine_factory(rename_section(TEMPLATE) + "[metadata]\nenabled = false\n")
    kept, refiled = copy_in(small_dated_jpegs(2), engine.drop)
    engine.wait_idle(2)
    assert len(filed(engine)) == 2 and not kept.exists() and not refiled.exists()
    job_of = {Path(row["src"]).name: row["job_id"] for row in journal_rows(engine, "done")}
    engine.stop()

    listed = engine.cli("jobs", "--state", "done", "--json")  # store-only commands answer without the service
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2, listed
    status = engine.cli("status")  # ... the rest still say how to start it
    assert status.returncode == 3 and "Start it with `image-engine run`" in status.stderr

    undone = engine.cli("undo", "--job", str(job_of[kept.name]))
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert f"-> {kept}" in undone.stdout and "1 file(s) moved back, 0 not" in undone.stdout
    assert STAY_PUT in undone.stdout and kept.exists()
    again = engine.cli("undo", "--job", str(job_of[refiled.name]), "--refile")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        "1 file(s) queued to be filed again once the service runs" in again.stdout
        and refiled.exists()
        and len(filed(engine)) == 0
    )

    engine.start()
    wait_for(lambda: not refiled.exists() and len(filed(engine)) == 1, 60, message="the re-queued file filed again")
    scan = engine.cli("scan")
    assert "0 new or changed" in scan.stdout and kept.exists(), "the file moved back without --refile stays put"

    online = engine.cli("undo", "--job", str(job_of[refiled.name]), "--refile")  # now through the running service
    assert online.returncode == 0 and "1 file(s) queued to be filed again" in online.stdout, online
    wait_for(lambda: not refiled.exists() and len(filed(engine)) == 1, 60, message="filed again by the service")
