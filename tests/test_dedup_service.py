"""Duplicates through the running service: policies report/tag/move across a restart, `dupes` on the CLI,
"not duplicates" decisions that survive restarts, rescans and changes, and `dupes --resolve`.

The policy's effect on the files themselves (keyword written, file moved, exact copy left unfiled) is done by the
rename and metadata stages: those tests skip with "needs the rename/metadata stage" until they exist.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.dedup_support import dedup_section, make_variant
from tests.support import Engine, corpus, exiftool_json, wait_for

PHOTO = "photos/Apple iPhone 4.jpg"
FILING = "[rename]\nenabled = true\n"  # tests.support turns filing off unless a test asks


def drop(engine: Engine, *sources: Path, names: list[str] | None = None) -> list[Path]:
    """Move files into the drop folder whole (made elsewhere first), as a user or a sync tool would."""
    engine.drop.mkdir(exist_ok=True)
    placed = []
    for index, source in enumerate(sources):
        target = engine.drop / (names[index] if names else source.name)
        shutil.move(source, target)
        placed.append(target)
    return placed


def staged(engine: Engine) -> Path:
    folder = engine.folder / "staging"
    folder.mkdir(exist_ok=True)
    return folder


def dupes(engine: Engine) -> dict[str, Any]:
    result = engine.cli("dupes", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def files_by_id(engine: Engine) -> list[dict[str, Any]]:
    return [dict(row) for row in engine.query("SELECT id, path, size, sha256 FROM files ORDER BY id")]


def dedup_result(engine: Engine, file_id: int) -> dict[str, Any]:
    (row,) = engine.query("SELECT data FROM results WHERE file_id = ? AND stage = 'dedup'", (file_id,))
    return json.loads(row[0])


def copies_across_a_restart(engine: Engine) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The photo dropped alone; after a restart, an exact copy and a half-size copy. Their file rows, in order."""
    shutil.copy2(corpus() / PHOTO, staged(engine) / "holiday.jpg")
    drop(engine, staged(engine) / "holiday.jpg")
    engine.wait_idle(1)
    engine.stop()
    engine.start()
    original = corpus() / PHOTO
    shutil.copy2(original, staged(engine) / "holiday copy.jpg")
    small = make_variant(original, "resize50", staged(engine))
    drop(engine, staged(engine) / "holiday copy.jpg", small, names=["holiday copy.jpg", "holiday small.jpg"])
    engine.wait_idle(3)
    first, *later = files_by_id(engine)
    exact = next(row for row in later if row["sha256"] == first["sha256"])
    near = next(row for row in later if row["sha256"] != first["sha256"])
    return first, exact, near


@pytest.mark.parametrize("action", ["report", "tag", "move"])
def test_policy_decisions_through_the_service_across_a_restart(engine_factory, action: str) -> None:
    engine = engine_factory(dedup_section(action=action))
    original, exact, near = copies_across_a_restart(engine)
    listing = dupes(engine)
    (group,) = listing["groups"]
    assert listing["action"] == action
    assert group["keeper"] == original["path"] and group["why"].startswith("largest")
    members = {member["path"]: member for member in group["members"]}
    assert members.keys() == {original["path"], exact["path"], near["path"]}
    assert members[exact["path"]]["kind"] == "exact" and members[near["path"]]["kind"] == "near"
    assert members[near["path"]]["width"] == 648 and members[original["path"]]["size"] == original["size"]

    kept = dedup_result(engine, original["id"])
    assert kept["keeper"] is True and kept["duplicate_of"] is None and kept["action"] == action
    for row, kind in ((exact, "exact"), (near, "near")):
        result = dedup_result(engine, row["id"])
        assert result["group"] == group["group"] and result["keeper"] is False
        assert result["duplicate_of"] == original["path"] and result["kind"] == kind and result["action"] == action
        assert result["move_to_duplicates"] is (action == "move")
        assert result["skip_filing"] is (kind == "exact" and action != "move")
    text = engine.cli("dupes").stdout
    assert f"keeps {original['path']}" in text and "(exact duplicate)" in text and f"action: {action}" in text


def test_tag_policy_writes_the_keyword_into_the_duplicates(engine_factory) -> None:
    engine = engine_factory(dedup_section(action="tag", tag_keyword="duplicate"))
    original, exact, near = copies_across_a_restart(engine)
    current = {row["id"]: Path(row["path"]) for row in files_by_id(engine)}
    subjects = {
        file_id: exiftool_json(current[file_id], args=("-XMP-dc:Subject",))[0].get("Subject", [])
        for file_id in (original["id"], near["id"])
    }
    assert "duplicate" in subjects[near["id"]]
    assert "duplicate" not in (subjects[original["id"]] or [])


def test_move_policy_files_the_duplicates_under_the_duplicates_folder(engine_factory) -> None:
    engine = engine_factory(dedup_section(action="move", folder="Duplicates") + FILING)
    original, exact, near = copies_across_a_restart(engine)
    current = {row["id"]: Path(row["path"]) for row in files_by_id(engine)}
    duplicates = engine.library / "Duplicates"
    assert current[near["id"]].is_relative_to(duplicates) and current[near["id"]].exists()
    assert current[exact["id"]].is_relative_to(duplicates) and current[exact["id"]].exists()
    assert not current[original["id"]].is_relative_to(duplicates)


def test_an_exact_copy_of_a_library_photo_is_not_filed_again(engine_factory) -> None:
    engine = engine_factory(dedup_section(action="report") + FILING)
    original, exact, near = copies_across_a_restart(engine)
    current = {row["id"]: Path(row["path"]) for row in files_by_id(engine)}
    assert current[original["id"]].is_relative_to(engine.library)
    assert current[exact["id"]] == engine.drop / "holiday copy.jpg"
    assert current[exact["id"]].read_bytes() == (corpus() / PHOTO).read_bytes()
    assert current[near["id"]].is_relative_to(engine.library), "a smaller copy is still filed (report only)"


def test_not_duplicates_survives_restart_rescan_and_a_changed_file(engine_factory) -> None:
    engine = engine_factory()
    shutil.copy2(corpus() / PHOTO, staged(engine) / "beach.jpg")
    q50 = make_variant(corpus() / PHOTO, "jpeg_q50", staged(engine))
    drop(engine, staged(engine) / "beach.jpg", q50, names=["beach.jpg", "beach q50.jpg"])
    engine.wait_idle(2)
    (group,) = dupes(engine)["groups"]
    answer = engine.cli("dupes", "--not-duplicates", str(group["group"]))
    assert answer.returncode == 0 and "recorded 1 pair(s)" in answer.stdout, answer.stdout + answer.stderr
    assert dupes(engine)["groups"] == []

    engine.stop()
    engine.start()
    scan = engine.cli("scan")
    assert scan.returncode == 0, scan.stderr
    assert dupes(engine)["groups"] == []

    # The variant is saved again (new bytes, same picture): judged afresh, still apart from the photo.
    with Image.open(engine.drop / "beach q50.jpg") as image:
        image.load()
        image.save(staged(engine) / "beach q50.jpg", quality=60, exif=image.info.get("exif", b""))
    drop(engine, staged(engine) / "beach q50.jpg")
    wait_for(lambda: len(engine.query("SELECT 1 FROM jobs WHERE state = 'done'")) >= 3, 30, message="re-judged")
    engine.wait_idle(3)
    assert dupes(engine)["groups"] == []
    # A new exact copy of the photo is still its duplicate; the variant stays out of that group.
    shutil.copy2(corpus() / PHOTO, staged(engine) / "beach again.jpg")
    drop(engine, staged(engine) / "beach again.jpg")
    engine.wait_idle(4)
    (group,) = dupes(engine)["groups"]
    assert {Path(m["path"]).name for m in group["members"]} == {"beach.jpg", "beach again.jpg"}


def test_not_duplicates_by_path_and_errors_name_the_problem(engine_factory) -> None:
    engine = engine_factory()
    shutil.copy2(corpus() / PHOTO, staged(engine) / "a.jpg")
    png = make_variant(corpus() / PHOTO, "png", staged(engine))
    drop(engine, staged(engine) / "a.jpg", png, names=["a.jpg", "a.png"])
    engine.wait_idle(2)
    assert len(dupes(engine)["groups"]) == 1
    unknown = engine.cli("dupes", "--not-duplicates", str(engine.drop / "nope.jpg"))
    assert unknown.returncode == 1 and "nope.jpg: not a file the engine knows" in unknown.stderr
    no_group = engine.cli("dupes", "--not-duplicates", "999")
    assert no_group.returncode == 1 and "no duplicate group 999" in no_group.stderr
    done = engine.cli("dupes", "--not-duplicates", str(engine.drop / "a.png"))
    assert done.returncode == 0, done.stderr
    assert dupes(engine)["groups"] == []


def test_resolve_applies_the_policy_after_a_bigger_copy_takes_over(engine_factory) -> None:
    engine = engine_factory(dedup_section(action="move"))
    small = make_variant(corpus() / PHOTO, "resize50", staged(engine))
    drop(engine, small, names=["first.jpg"])
    engine.wait_idle(1)
    shutil.copy2(corpus() / PHOTO, staged(engine) / "bigger.jpg")
    drop(engine, staged(engine) / "bigger.jpg")
    engine.wait_idle(2)
    listing = dupes(engine)
    (group,) = listing["groups"]
    first = next(m for m in group["members"] if Path(m["path"]).name == "first.jpg")
    assert Path(group["keeper"]).name == "bigger.jpg" and first["pending"] is True
    assert [Path(c["old_keeper"]).name for c in group["keeper_changes"]] == ["first.jpg"]
    first_id = next(row["id"] for row in files_by_id(engine) if row["path"] == first["path"])
    assert dedup_result(engine, first_id)["keeper"] is True  # what the stage decided when it saw it alone

    answer = engine.cli("dupes", "--resolve")
    assert answer.returncode == 0, answer.stderr
    after = dedup_result(engine, first_id)
    assert after["keeper"] is False and after["move_to_duplicates"] is True and after["duplicate_of"] == group["keeper"]
    assert "needs the rename stage" in answer.stdout, answer.stdout  # filing is off in this engine
    assert all(not member["pending"] for member in dupes(engine)["groups"][0]["members"])


def test_resolve_moves_a_former_keeper_into_the_duplicates_folder(engine_factory) -> None:
    engine = engine_factory(dedup_section(action="move") + FILING)
    small = make_variant(corpus() / PHOTO, "resize50", staged(engine))
    drop(engine, small, names=["first.jpg"])
    engine.wait_idle(1)
    shutil.copy2(corpus() / PHOTO, staged(engine) / "bigger.jpg")
    drop(engine, staged(engine) / "bigger.jpg")
    engine.wait_idle(2)
    assert engine.cli("dupes", "--resolve").returncode == 0
    first_id = files_by_id(engine)[0]["id"]
    wait_for(
        lambda: Path(files_by_id(engine)[0]["path"]).is_relative_to(engine.library / "Duplicates"),
        30,
        message="the former keeper moved under Duplicates",
    )
    assert Path(next(r["path"] for r in files_by_id(engine) if r["id"] == first_id)).exists()
