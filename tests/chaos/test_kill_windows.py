"""kill -9 at a chosen moment: the real engine held at one step, killed there, restarted, and checked.

The storm (test_faults) kills at random moments; here the moment is the window between the metadata stage's write
(exiftool has replaced the filed photo) and the record of it (the file's new stat, the job done) in the store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

from tests.chaos.test_faults import full_pipeline, pipeline_checks
from tests.support import Engine, corpus, wait_for

# A real exiftool behind a hold. While HOLD exists, the first write waits for GO (ARRIVED says it is there); then the
# engine is frozen (SIGSTOP: from here it sees nothing, not even the echo of the write), exiftool writes, and as soon as
# it answers, the engine and its tools are killed (SIGKILL to the process group). Its arguments are exiftool's.
HELD_EXIFTOOL = """#!{python}
import os, re, signal, subprocess, sys, threading, time

HOLD, ARRIVED, GO = {hold!r}, {arrived!r}, {go!r}
ASSIGNMENT = re.compile(rb"^-[A-Za-z0-9:-]+[-+]?=")  # -XMP-dc:Subject=...: a write
real = subprocess.Popen(["exiftool", *sys.argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
writing = threading.Event()


def forward_commands():
    for line in sys.stdin.buffer:
        if ASSIGNMENT.match(line) and os.path.exists(HOLD) and not writing.is_set():
            open(ARRIVED, "w").close()
            while not os.path.exists(GO):
                time.sleep(0.05)
            os.kill(os.getppid(), signal.SIGSTOP)
            writing.set()
        real.stdin.write(line)
        real.stdin.flush()
    real.stdin.close()


threading.Thread(target=forward_commands, daemon=True).start()
tail = b""
while chunk := os.read(real.stdout.fileno(), 65536):
    if writing.is_set() and b"{{ready" in tail + chunk:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    tail = chunk[-16:]
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
"""


class HeldExifTool:
    def __init__(self, folder: Path):
        self.tool, self.hold, self.arrived, self.go = (
            folder / name for name in ("held-exiftool", "hold", "arrived", "go")
        )
        paths = {"hold": str(self.hold), "arrived": str(self.arrived), "go": str(self.go)}
        self.tool.write_text(HELD_EXIFTOOL.format(python=sys.executable, **paths))
        self.tool.chmod(0o755)


def recorded_stat(engine: Engine, path: Path) -> tuple[int, int, int]:
    (row,) = engine.query("SELECT size, mtime_ns, inode FROM files WHERE path = ?", (str(path),))
    return row["size"], row["mtime_ns"], row["inode"]


def disk_stat(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns, info.st_ino


def test_a_kill_between_the_metadata_write_and_its_record_files_the_photo_once(
    engine_factory, ledger, tmp_path: Path
) -> None:
    """The restart's scan meets the rewritten photo before a worker has claimed its job again (here: the engine
    was paused; in the storm: the files worker busy with older jobs). It is the engine's own write, not a new
    version: the job finishes at metadata, and the photo is not tagged, judged and 'filed' a second time."""
    held = HeldExifTool(tmp_path)
    engine: Engine = engine_factory(f'{full_pipeline()}\n[metadata]\nexiftool = "{held.tool}"\n', start=False)
    source = corpus() / "labelled" / "felix_605.jpg"
    held.hold.touch()
    engine.start()
    shutil.copyfile(source, engine.drop / "felix.jpg")
    wait_for(held.arrived.exists, 120, message="the metadata write reached exiftool")
    assert engine.cli("pause").returncode == 0  # the restart finds the job queued, as a busy worker leaves it
    held.go.touch()
    engine.process.wait(timeout=30)  # killed by the held exiftool as soon as the file is written
    engine.stop(signal.SIGKILL)
    ledger.faults_injected += 1
    (move,) = engine.query("SELECT dest FROM rename_journal WHERE kind = 'file' AND state = 'done'")
    filed = Path(move["dest"])
    assert recorded_stat(engine, filed) != disk_stat(filed), "the photo is rewritten, and the store does not know"

    held.hold.unlink()
    engine.start()
    looked = (
        "SELECT files.dirty OR EXISTS (SELECT 1 FROM jobs WHERE jobs.file_id = files.id AND state = 'superseded')"
        " AS seen FROM files WHERE path = ?"
    )
    wait_for(lambda: engine.query(looked, (str(filed),))[0]["seen"], 30, message="the start-up scan met the photo")
    assert engine.cli("resume").returncode == 0
    engine.wait_idle(1, timeout=60)

    jobs = engine.query("SELECT stage, state FROM jobs")
    assert [tuple(row) for row in jobs] == [("metadata", "done")]  # before: superseded, and a second job from probe
    runs = engine.query("SELECT stage, COUNT(*) AS n FROM stage_runs WHERE outcome = 'ok' GROUP BY stage")
    assert {row["stage"]: row["n"] for row in runs}["probe"] == 1
    (rename,) = engine.query("SELECT data FROM results WHERE stage = 'rename'")
    assert json.loads(rename["data"])["moved"] is True  # before: the second pass said "kept: already in the library"
    assert recorded_stat(engine, filed) == disk_stat(filed)
    pipeline_checks(engine, {"felix.jpg": source}, ledger)
    scan = engine.cli("scan")
    assert "0 new or changed" in scan.stdout, scan.stdout + scan.stderr
