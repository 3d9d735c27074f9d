"""The one exiftool process: it survives being killed mid-batch, and the original-keeping guard restores bytes.

Real exiftool, real files, a real SIGKILL from a second thread that watches the first file being replaced.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from daemon.metadata.guard import Guard
from daemon.metadata.tag_names import READ_TAGS
from daemon.tools.exiftool import Command, ExifTool, temp_file_of
from tests.metadata_support import copy, exif_many, item, keywords_of, make_stage, sha, tag_result


def kill_when_replaced(watched: Path, pid_of, killed: list[int]) -> threading.Thread:
    """Kill exiftool the moment it has renamed its first rewritten file into place (the batch is under way)."""
    inode = watched.stat().st_ino

    def watch() -> None:
        deadline = time.monotonic() + 60
        while watched.stat().st_ino == inode:
            if time.monotonic() > deadline:
                return
            time.sleep(0.0005)
        pid = pid_of()
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_exiftool_killed_mid_batch_is_restarted_and_the_batch_completes(tmp_path: Path) -> None:
    paths = [copy("labelled/felix_605.jpg", tmp_path, f"{index:02d}.jpg") for index in range(30)]
    metadata = make_stage(tmp_path)
    try:
        killed: list[int] = []
        watcher = kill_when_replaced(paths[0], lambda: metadata.tool.pid, killed)
        outcomes = metadata.run_batch([item(path, tag_result(f"kw{index}")) for index, path in enumerate(paths)])
        watcher.join(timeout=30)
        assert killed, "exiftool was killed while the batch ran"
        assert metadata.tool.restarts >= 1 and metadata.tool.pid != killed[0]
        assert [o["verified"] for o in outcomes] == [True] * 30, [o for o in outcomes if isinstance(o, Exception)]
        for index, found in enumerate(exif_many(paths, "XMP-dc:Subject", "IPTC:Keywords")):
            assert found["XMP-dc:Subject"] == [f"kw{index}"] and found["IPTC:Keywords"] == [f"kw{index}"]
        assert not [p for p in tmp_path.iterdir() if "_exiftool_tmp" in p.name or "_original" in p.name]
    finally:
        metadata.close()


def test_exiftool_dead_between_batches_starts_again(tmp_path: Path) -> None:
    tool = ExifTool()
    try:
        photo = copy("labelled/felix_608.jpg", tmp_path)
        assert tool.read([photo], ["File:FileType"]) == [{"File:FileType": ["JPEG"]}]
        os.kill(tool.pid, signal.SIGKILL)
        [outcome] = tool.run([Command(["-overwrite_original", "-XMP-dc:Subject=again", os.fsencode(photo)], photo)])
        assert outcome.status == 0 and tool.restarts == 1
        assert keywords_of(photo) == ["again"]
    finally:
        tool.close()
    assert tool.pid is None


def test_one_bad_file_in_a_batch_read_fails_alone(tmp_path: Path) -> None:
    good = copy("labelled/felix_608.jpg", tmp_path)
    tool = ExifTool()
    try:
        results = tool.read([good, tmp_path / "missing.jpg", good], ["File:FileType"])
    finally:
        tool.close()
    assert results[0] == results[2] == {"File:FileType": ["JPEG"]}
    assert results[1].status == 1 and "File not found" in results[1].message


def test_missing_exiftool_is_reported_not_hung(tmp_path: Path) -> None:
    tool = ExifTool("/nonexistent/exiftool")
    try:
        tool.read([tmp_path / "x.jpg"], ["File:FileType"])
    except Exception as exc:  # noqa: BLE001 - the type is checked below
        assert type(exc).__name__ == "ExifToolError" and "/nonexistent/exiftool" in str(exc)
    else:
        raise AssertionError("expected ExifToolError")


def test_guard_puts_the_original_back_after_a_rename_over_it(tmp_path: Path) -> None:
    photo = copy("labelled/felix_605.jpg", tmp_path)
    before, inode, mtime = sha(photo), photo.stat().st_ino, photo.stat().st_mtime_ns
    guard = Guard(photo, tmp_path / "scratch").protect()
    replacement = temp_file_of(photo)
    replacement.write_bytes(b"not the original")
    os.replace(replacement, photo)  # what exiftool does after writing its temp file
    guard.restore()
    assert sha(photo) == before and photo.stat().st_ino == inode and photo.stat().st_mtime_ns == mtime
    assert list((tmp_path / "scratch").iterdir()) == []

    untouched = Guard(photo, tmp_path / "scratch").protect()
    untouched.restore()  # the write failed: nothing replaced the file, the link is just dropped
    assert sha(photo) == before and list((tmp_path / "scratch").iterdir()) == []

    created = Guard(tmp_path / "new.xmp", tmp_path / "scratch").protect()
    (tmp_path / "new.xmp").write_text("<x/>")
    created.restore()
    assert not (tmp_path / "new.xmp").exists()


def test_one_process_serves_several_threads(tmp_path: Path) -> None:
    paths = [copy("labelled/felix_605.jpg", tmp_path, f"{index}.jpg") for index in range(12)]
    tool = ExifTool()
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            path = paths[index]
            [outcome] = tool.run(
                [Command(["-overwrite_original", f"-XMP-dc:Subject=t{index}", os.fsencode(path)], path)]
            )
            assert outcome.status == 0
            assert tool.read([path], ["XMP-dc:Subject"]) == [{"XMP-dc:Subject": [f"t{index}"]}]
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        tool.close()
    assert errors == [] and tool.restarts == 0


def test_a_batch_larger_than_the_pipes_completes(tmp_path: Path) -> None:
    """Hundreds of commands in one round trip: more than a pipe holds both ways (input and -X output)."""
    photo = copy("metadata/exiftool_IPTC.jpg", tmp_path)
    tool = ExifTool()
    try:
        results = tool.read([photo] * 200, [*READ_TAGS, "XMP:all"])  # about 90 kB in, 300 kB out
    finally:
        tool.close()
    assert len(results) == 200 and all(r == results[0] for r in results)
    assert results[0]["IPTC:Keywords"] == ["ExifTool", "Test", "IPTC"]
