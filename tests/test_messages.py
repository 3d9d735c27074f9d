"""Messages a user can act on (issue 13): quiet pipes, no HTTP transport in errors, pause twice, failed files.

Each test drives the real CLI against a real engine subprocess and asserts the text the user reads.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO, Engine, corpus, exiftool_json, wait_for

TINY = "metadata/exiftool_MWG.jpg"  # an 8x8 JPEG: cheap to process


def piped_into_head(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    command = " ".join(f"'{part}'" for part in (sys.executable, "-m", "daemon", "--config", str(engine.config), *args))
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_listing_piped_into_head_ends_quietly(engine_factory, tmp_path: Path) -> None:
    # 60 identical photos under 2 kB-long folder names: `jobs` and `dupes` print far more than a pipe holds,
    # so the CLI is still writing when `head -1` has gone.
    deep = tmp_path / "drop" / Path(*[f"{index:02d}" + "x" * 200 for index in range(10)])
    deep.mkdir(parents=True)
    for index in range(60):
        shutil.copyfile(corpus() / TINY, deep / f"copy{index:02d}.jpg")
    engine: Engine = engine_factory("[metadata]\nenabled = false\n")
    engine.wait_idle(60)
    for listing in (("jobs", "--limit", "1000"), ("dupes",)):
        result = piped_into_head(engine, *listing)
        assert result.stderr == "", f"{listing}: {result.stderr}"
        assert len(result.stdout.splitlines()) == 1
        assert result.returncode == 141, "like a Unix tool ended by SIGPIPE (128 + 13)"


def test_errors_say_the_sentence_and_what_to_do_without_http(engine_factory, tmp_path: Path) -> None:
    engine: Engine = engine_factory()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = engine.cli("scan", str(outside))
    assert result.returncode == 1
    assert result.stderr == (
        f"image-engine: {outside} is not inside a watched folder ({engine.drop}, {engine.library}): add a [[watch]]"
        f" entry for it in {engine.config} and restart the service\n"
    )
    result = engine.cli("similar", str(outside / "nothing.jpg"))
    assert result.returncode != 0 and result.stderr.startswith("image-engine: ")
    assert "HTTP" not in result.stderr, result.stderr


def test_pause_twice_says_it_was_already_paused(engine_factory) -> None:
    engine: Engine = engine_factory()
    assert engine.cli("pause").stdout == "paused: no new work starts; watching continues\n"
    again = engine.cli("pause")
    assert again.returncode == 0
    assert again.stdout == "already paused: no new work starts; `image-engine resume` starts it again\n"
    assert engine.cli("resume").stdout == "resumed\n"
    assert engine.cli("resume").stdout == "already running: nothing was paused\n"


def drop_whole(engine: Engine, *names: str) -> None:
    """Copy corpus files in elsewhere, then move them into the drop folder whole, as a sync tool would."""
    staging = engine.folder / "staging"
    staging.mkdir(exist_ok=True)
    for name in names:
        shutil.copyfile(corpus() / name, staging / Path(name).name)  # writable, as a camera's copy is
        shutil.move(staging / Path(name).name, engine.drop / Path(name).name)


def test_dupes_shows_the_real_difference_prefers_upright_and_says_what_resolve_would_do(engine_factory) -> None:
    engine: Engine = engine_factory("[metadata]\nenabled = false\n")
    drop_whole(engine, "duplicates/Issue 600 (1).jpg")
    engine.wait_idle(1)
    # The larger copy arrives later: the first one's recorded decision ("kept, alone") is now out of date.
    drop_whole(engine, "duplicates/Issue 600 (2).jpg", "orientation/Landscape_1.jpg", "orientation/Landscape_6.jpg")
    engine.wait_idle(4)
    listing = engine.cli("dupes")
    assert listing.returncode == 0, listing.stderr
    text = listing.stdout
    # 218,349 and 217,728 bytes both round to "218 kB": the reason shows the real numbers.
    assert "  why: largest file (218,349 vs 217,728 bytes, 621 more)\n" in text, text
    # Landscape_6 is 1.6% larger only because its pixels are stored turned, with an Orientation 6 tag to undo it.
    assert f"keeps {engine.drop / 'Landscape_1.jpg'}\n  why: stored upright (EXIF orientation 1 vs 6)\n" in text, text
    assert text.endswith(
        "2 group(s); action: report\n"
        "1 decision(s) changed since their files were processed; `image-engine dupes --resolve` only records them:"
        ' under action "report" no file is tagged or moved\n'
    ), text


@pytest.mark.parametrize("handling", ["leave", "move", "delete"])
def test_a_second_copy_of_a_filed_photo_says_so_and_follows_rename_duplicates(engine_factory, handling: str) -> None:
    engine: Engine = engine_factory(f'[metadata]\nenabled = false\n[rename]\nduplicates = "{handling}"\n')
    drop_whole(engine, TINY)
    engine.wait_idle(1)
    (filed,) = [Path(row["path"]) for row in engine.query("SELECT path FROM files")]
    assert filed.is_relative_to(engine.library)
    staging = engine.folder / "staging"
    shutil.copyfile(corpus() / TINY, staging / "again.jpg")
    shutil.move(staging / "again.jpg", engine.drop / "again.jpg")
    engine.wait_idle(2)
    copy = engine.drop / "again.jpg"
    jobs = engine.cli("jobs").stdout
    status = engine.cli("status").stdout
    if handling == "leave":
        reason = f'not filed: exact duplicate of {filed}; left where it is ([rename] duplicates = "leave")'
        assert copy.read_bytes() == (corpus() / TINY).read_bytes()
        assert f"done     rename    {copy}\n        {reason}\n" in jobs, jobs
        assert f"left unfiled:\n  {copy}: {reason}\n" in status, status
    elif handling == "move":
        (moved,) = (engine.library / "Duplicates").rglob("*.jpg")
        assert not copy.exists() and moved.read_bytes() == (corpus() / TINY).read_bytes()
        assert f"\n        exact duplicate of {filed}: filed under the duplicates folder\n" in jobs, jobs
        assert "left unfiled" not in status
    else:
        assert not copy.exists() and filed.read_bytes() == (corpus() / TINY).read_bytes()
        assert f"\n        deleted: exact duplicate of {filed}\n" in jobs, jobs
        assert "left unfiled" not in status


def test_tags_and_similar_on_a_file_that_failed_say_it_failed_and_why(engine_factory) -> None:
    engine: Engine = engine_factory()
    drop_whole(engine, "broken/beach.jpg")
    engine.wait_idle(1)
    broken = engine.drop / "beach.jpg"
    ((stage, error),) = engine.query(
        "SELECT jobs.stage, jobs.error FROM jobs JOIN files ON files.id = jobs.file_id WHERE files.path = ?",
        (str(broken),),
    )
    assert stage == "probe" and error
    why = f"its processing failed at the probe stage: {error} (`image-engine retry` tries again once the file is fixed)"
    tags = engine.cli("tags", str(broken))
    assert tags.returncode == 1 and tags.stderr == f"{broken}: {why}\n"
    similar = engine.cli("similar", str(broken))
    assert similar.returncode == 1 and similar.stderr == f"image-engine: {broken} has no embedding: {why}\n"


def test_a_metadata_write_that_fails_says_the_cause_once_and_what_to_do(engine_factory) -> None:
    engine: Engine = engine_factory('[metadata]\nenabled = true\n[dedup]\naction = "tag"\n')
    drop_whole(engine, "duplicates/Issue 600 (2).jpg")
    engine.wait_idle(1)
    # A smaller copy with a 250-byte name: it gets the duplicate keyword, and exiftool's temporary copy
    # (NAME_exiftool_tmp) cannot be created under the 255-byte limit.
    long_name = "x" * 246 + ".jpg"
    staging = engine.folder / "staging"
    shutil.copyfile(corpus() / "duplicates/Issue 600 (1).jpg", staging / long_name)
    shutil.move(staging / long_name, engine.drop / long_name)
    engine.wait_idle(2)
    ((error,),) = engine.query("SELECT error FROM jobs WHERE state = 'failed'")
    assert error == (
        "metadata not written: the file name is 250 bytes long, too long for exiftool's temporary copy"
        " (name + '_exiftool_tmp' must fit in 255 bytes); the photo is unchanged: rename it shorter and run"
        " `image-engine retry`"
    )
    assert (engine.drop / long_name).read_bytes() == (corpus() / "duplicates/Issue 600 (1).jpg").read_bytes()


def test_an_exiftool_error_becomes_one_line_without_the_repeated_path(tmp_path: Path) -> None:
    from daemon.metadata.failures import write_failure

    photo = tmp_path / ("holiday " * 20 + ".tif")
    shutil.copyfile(corpus() / "broken/fuzzed_crash-2b10c204.tif", photo)
    said = subprocess.run(
        ["exiftool", "-overwrite_original", "-XMP-dc:Subject+=x", str(photo)], capture_output=True, text=True
    ).stderr
    assert said.count(str(photo)) >= 1, said  # exiftool: "Error: Bad IFD or truncated file in IFD0 - PATH"
    assert write_failure(photo, said) == (
        "metadata not written: Bad IFD or truncated file in IFD0; the photo is unchanged:"
        " fix that and run `image-engine retry`"
    )


def test_the_library_is_watched_edits_are_read_again_and_deletions_marked(engine_factory) -> None:
    engine: Engine = engine_factory('[rename]\nenabled = true\n[dedup]\naction = "tag"\n')
    drop_whole(engine, "duplicates/Issue 600 (2).jpg")
    engine.wait_idle(1)
    drop_whole(engine, "duplicates/Issue 600 (1).jpg")  # a near duplicate: filed, and tagged "duplicate" there
    engine.wait_idle(2)
    paths = {
        Path(row["path"]).name.split("_", 2)[-1]: Path(row["path"]) for row in engine.query("SELECT path FROM files")
    }
    keeper, copy = paths["Issue 600 (2).jpg"], paths["Issue 600 (1).jpg"]
    assert keeper.is_relative_to(engine.library) and copy.is_relative_to(engine.library)
    assert exiftool_json(copy, args=("-XMP-dc:Subject",))[0]["Subject"] == ["Jupiter", "duplicate"]
    assert f"watching: {engine.library}\n" in engine.cli("status").stdout

    def job_count() -> int:
        return len(engine.query("SELECT 1 FROM jobs"))

    time.sleep(2)  # the engine's own write in the library (the keyword) must not start work again
    assert job_count() == 2
    scan = engine.cli("scan", str(engine.library))
    assert scan.returncode == 0 and scan.stdout == "scanned 2 file(s): 0 new or changed, 0 missing\n", scan.stderr

    # Edited in another program: read again, the user's keyword kept beside the engine's.
    subprocess.run(["exiftool", "-overwrite_original", "-XMP-dc:Subject+=Grandma", str(copy)], check=True)
    wait_for(lambda: job_count() == 3, 20, message="a job for the edited photo")
    engine.wait_idle(3)
    time.sleep(2)
    assert job_count() == 3, "no loop on the engine's own write after the edit"
    ((size,),) = engine.query("SELECT size FROM files WHERE path = ?", (str(copy),))
    assert size == copy.stat().st_size
    assert sorted(exiftool_json(copy, args=("-XMP-dc:Subject",))[0]["Subject"]) == ["Grandma", "Jupiter", "duplicate"]

    keeper.unlink()
    wait_for(
        lambda: engine.query("SELECT present FROM files WHERE path = ?", (str(keeper),))[0][0] == 0,
        10,
        message="the deleted photo marked missing",
    )


def test_every_command_help_has_a_description_and_an_example_that_parses() -> None:
    import argparse
    import shlex

    from daemon.cli import build_parser

    parser = build_parser()
    seen = []

    def walk(current: argparse.ArgumentParser, words: list[str]) -> None:
        for action in current._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for name, sub in action.choices.items():
                command = [*words, name]
                seen.append(" ".join(command))
                text = sub.format_help()
                assert sub.description and sub.description.strip() in text, f"{command}: no description"
                assert "\nexample:\n  image-engine " in text, f"{command}: no example"
                for line in text.split("\nexample:\n", 1)[1].splitlines():
                    example = shlex.split(line.split(" | ")[0])[1:]
                    assert example and " ".join(command) in " ".join(example), f"{command}: example {line!r}"
                    parser.parse_args(example)  # the example is a command line that parses
                walk(sub, command)

    walk(parser, [])
    assert {"pause", "scan", "dupes", "config check", "service install"} <= set(seen)


def test_with_the_library_unwatched_scan_library_says_which_setting_to_turn_on(engine_factory) -> None:
    engine: Engine = engine_factory(start=False)
    text = engine.config.read_text()
    engine.config.write_text(text.replace("[library]\n", "[library]\nwatch = false\n", 1))
    engine.start()
    assert f"watching: {engine.library}\n" not in engine.cli("status").stdout
    result = engine.cli("scan", str(engine.library))
    assert result.stderr == (
        f"image-engine: {engine.library} is not inside a watched folder ({engine.drop}): set watch = true under"
        f" [library] in {engine.config} and restart the service\n"
    )
