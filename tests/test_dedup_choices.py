"""Per-photo duplicate decisions through the running service (`dupes --keep/--trash/--keep-suggested`): a trashed
copy lands in the duplicates folder through the rename journal (so `undo` lists it), the [dedup] policy never
overrides the user's choice, and a group can never lose its last copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from daemon.metadata.wanted import wanted_from
from tests.dedup_support import dedup_section, make_variant
from tests.support import corpus, wait_for
from tests.test_dedup_service import FILING, PHOTO, dedup_result, drop, dupes, files_by_id, staged


def test_a_trashed_copy_moves_to_the_duplicates_folder_undo_lists_it_and_resolve_keeps_the_choice(
    engine_factory,
) -> None:
    engine = engine_factory(dedup_section(action="report") + FILING)
    small = make_variant(corpus() / PHOTO, "resize50", staged(engine))
    shutil.copy2(corpus() / PHOTO, staged(engine) / "big.jpg")
    drop(engine, staged(engine) / "big.jpg", small, names=["big.jpg", "small.jpg"])
    engine.wait_idle(2)
    [group] = dupes(engine)["groups"]
    keeper = next(m for m in group["members"] if m["keeper"])
    other = next(m for m in group["members"] if not m["keeper"])

    refused = engine.cli("dupes", "--trash", keeper["path"], other["path"])
    assert refused.returncode != 0 and "keep at least one copy" in refused.stderr, refused.stderr

    answer = engine.cli("dupes", "--trash", other["path"])
    assert answer.returncode == 0, answer.stderr
    assert "trashed 1: 1 file(s) move to the duplicates folder" in answer.stdout, answer.stdout
    trash = engine.library / "Duplicates"
    wait_for(
        lambda: Path(next(r["path"] for r in files_by_id(engine) if r["id"] == other["file"])).is_relative_to(trash),
        30,
        message="the trashed copy filed under Duplicates",
    )
    engine.wait_idle(2)
    moved = Path(next(r["path"] for r in files_by_id(engine) if r["id"] == other["file"]))
    assert moved.is_file() and not Path(other["path"]).exists()
    assert dedup_result(engine, other["file"])["choice"] == "trash"
    undo = engine.cli("undo", "--all", "--dry-run")
    assert f"would move back: {moved}" in undo.stdout, undo.stdout

    # The policy ("report": nothing moves) applied again leaves the user's choice alone.
    assert engine.cli("dupes", "--resolve").returncode == 0
    assert dedup_result(engine, other["file"])["move_to_duplicates"] is True
    assert [m["choice"] for m in dupes(engine)["groups"][0]["members"] if m["file"] == other["file"]] == ["trash"]

    kept = engine.cli("dupes", "--keep", str(moved))
    assert kept.returncode == 0, kept.stderr
    assert "already filed as a duplicate: move it back with `undo`" in kept.stdout, kept.stdout
    assert dedup_result(engine, other["file"])["choice"] == "keep"


def test_keep_suggested_trashes_the_copies_of_undecided_groups_only(engine_factory) -> None:
    engine = engine_factory(dedup_section(action="report") + FILING)
    small = make_variant(corpus() / PHOTO, "resize50", staged(engine))
    shutil.copy2(corpus() / PHOTO, staged(engine) / "big.jpg")
    drop(engine, staged(engine) / "big.jpg", small, names=["big.jpg", "small.jpg"])
    engine.wait_idle(2)
    assert dupes(engine)["suggested_moves"] == 1
    answer = engine.cli("dupes", "--keep-suggested")
    assert answer.returncode == 0, answer.stderr
    assert "kept 1, trashed 1: 1 file(s) move" in answer.stdout, answer.stdout
    assert dupes(engine)["suggested_moves"] == 0  # decided now: a second run moves nothing
    again = engine.cli("dupes", "--keep-suggested")
    assert "kept 0, trashed 0" in again.stdout, again.stdout


def test_a_copy_the_user_keeps_gets_no_duplicate_keyword_under_the_tag_policy() -> None:
    decided = {"group": 3, "keeper": False, "duplicate_of": "/photos/a.jpg", "action": "tag"}
    assert [k.text for k in wanted_from({}, decided, "duplicate").keywords] == ["duplicate"]
    assert wanted_from({}, {**decided, "choice": "keep"}, "duplicate").keywords == []
