"""Originals kept while a metadata write ran, left behind when the engine was killed during the write: the next
start removes them (each kill kept one more copy of a photo for good), and touches nothing else.
"""

from __future__ import annotations

from pathlib import Path

from tests.support import Engine, wait_for, write_config


def test_the_next_start_removes_the_originals_kept_by_interrupted_writes(tmp_path: Path) -> None:
    scratch = tmp_path / "data" / "cache" / "metadata-guard"
    scratch.mkdir(parents=True)
    (tmp_path / "drop").mkdir()
    photo = tmp_path / "drop" / "IMG_0001.jpg"
    photo.write_bytes(b"\xff\xd8 a photo's bytes")
    for index in range(3):  # what three kills during writes leave: hard links to the photos' originals
        (scratch / f"{index:012x}-IMG_000{index}.jpg").hardlink_to(photo)
    engine = Engine(tmp_path, write_config(tmp_path)).start()
    try:
        wait_for(lambda: not any(scratch.iterdir()), 20, message="the kept originals removed")
        assert photo.read_bytes() == b"\xff\xd8 a photo's bytes" and photo.stat().st_nlink == 1
        wait_for(
            lambda: '"event": "guard_cleared"' in engine.log.read_text(errors="replace"), 10, message="said in the log"
        )
    finally:
        engine.stop()
