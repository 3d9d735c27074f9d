"""Reconcile scans on real folders and a real database: streaming, back-pressure, and files gone missing."""

from __future__ import annotations

from pathlib import Path

from daemon.store import Store
from daemon.watch.intake import Intake
from daemon.watch.reconcile import reconcile
from tests.support import wait_for


def make_tree(root: Path, folders: int, per_folder: int) -> list[Path]:
    made = []
    for folder in range(folders):
        sub = root / f"{folder:03d}"
        sub.mkdir(parents=True)
        for number in range(per_folder):
            path = sub / f"IMG_{number:04d}.jpg"
            path.write_bytes(b"\xff\xd8 photo %d/%d" % (folder, number))
            made.append(path)
    return made


def test_scan_waits_for_the_intake_and_finds_what_went_missing(tmp_path: Path) -> None:
    root = tmp_path / "drop"
    photos = make_tree(root, folders=40, per_folder=60)
    (root / "top.jpg").write_bytes(b"\xff\xd8 top")
    store = Store(tmp_path / "db.sqlite")
    intake = Intake(store, "probe", settle_seconds=0, ignore=[])
    intake.max_pending_from_scan = 100
    most_pending = 0
    submit = intake.submit

    def watched_submit(path: str, root: str, **kw: bool) -> None:
        nonlocal most_pending
        submit(path, root, **kw)
        most_pending = max(most_pending, intake.pending_count())

    intake.submit = watched_submit  # type: ignore[method-assign]
    intake.start()
    try:
        progress: list[tuple[int, int]] = []
        first = reconcile(root, True, store, intake, [], lambda done, total: progress.append((done, total)))
        assert first == {"seen": 2401, "submitted": 2401, "missing": 0}
        assert most_pending <= 100  # the scan never ran more than the limit ahead of the queue
        assert progress[-1] == (2401, 2401) and all(done <= total for done, total in progress)
        wait_for(lambda: intake.pending_count() == 0, message="the intake drains")
        assert store.conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0] == 2401

        again = reconcile(root, True, store, intake, [])
        assert again == {"seen": 2401, "submitted": 0, "missing": 0}  # unchanged files cost a lookup, no job

        gone = photos[::2] + photos[1:300:2]  # 1,350: more than one page of missing paths
        for path in gone:
            path.unlink()
        (root / "top.jpg").unlink()
        only_top = reconcile(root, False, store, intake, [])
        assert only_top == {"seen": 0, "submitted": 0, "missing": 1}  # subfolders are not this scan's business
        after = reconcile(root, True, store, intake, [])
        assert after == {"seen": 2400 - len(gone), "submitted": 0, "missing": len(gone)}
        missing = {row[0] for row in store.conn.execute("SELECT path FROM files WHERE present = 0")}
        assert missing == {str(path) for path in gone} | {str(root / "top.jpg")}
    finally:
        intake.stop()
        store.close()
