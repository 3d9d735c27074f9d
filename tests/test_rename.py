"""Renaming: templates render to legal paths that never leave the library, collisions never overwrite, companions
travel with their photo, every move is journaled (crash recovery, kill -9) and can be undone exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.errors import PermanentError
from daemon.rename.mover import TargetExists, move_file, part_path
from daemon.rename.planner import Planner
from daemon.rename.safety import inside
from daemon.rename.template import parse_template
from daemon.store import Store, queue, rename, settings
from daemon.store.queue import FileStat
from tests.support import REPO, Engine, corpus, corpus_rows, wait_for, write_config

DATED = "{taken:%Y}/{taken:%Y-%m-%d}/{taken:%Y%m%d_%H%M%S}_{category}{counter}.{ext}"
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
ZERO_ACTIVE = {"queued": 0, "running": 0, "waiting": 0}
HOSTILE = [
    "../../etc/passwd",
    "CON:",
    "con",
    "a/b",
    "x" * 300,
    "trailing.",
    "nul\x00byte",
    unicodedata.normalize("NFD", "Café Zürich"),
    "..",
    "back\\slash",
    " lpt1 .txt",
]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder`."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def windows_legal(name: str) -> bool:
    return (
        bool(name)
        and not any(ch in WINDOWS_FORBIDDEN or ord(ch) < 32 for ch in name)
        and not name.endswith((" ", "."))
        and not name.startswith(".")
        and name.split(".", 1)[0].rstrip(" ").upper() not in WINDOWS_DEVICES
        and len(name.encode("utf-8")) <= 255
        and unicodedata.is_normalized("NFC", name)
    )


def small_dated_jpegs(count: int) -> list[Path]:
    rows = [
        r
        for r in corpus_rows()
        if r["file"].lower().endswith(".jpg") and "DTO" in r["facts"] and "FAILS" not in r["facts"]
    ]
    rows.sort(key=lambda r: int(r["bytes"]))
    return [corpus() / r["file"] for r in rows[:count]]


def distinct_variants(folder: Path, count: int, sources: list[Path]) -> list[Path]:
    """`count` photos with distinct bytes: corpus JPEGs with a few bytes after the image data (decoders ignore them)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"{index:03d}_{source.stem.replace(' ', '_')}.jpg"
        target.write_bytes(source.read_bytes() + f"variant {index}".encode())
        made.append(target)
    return made


def rename_section(template: str = DATED, **settings: object) -> str:
    lines = [f"template = {json.dumps(template)}", *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]
    return "[rename]\n" + "\n".join(lines) + "\n"


def journal_rows(engine: Engine, state: str | None = None) -> list[sqlite3.Row]:
    sql = "SELECT * FROM rename_journal" + (" WHERE state = ?" if state else "") + " ORDER BY id"
    return engine.query(sql, (state,) if state else ())


# --- templates and safety ------------------------------------------------------------------------------


def test_template_renders_every_field_and_placeholders() -> None:
    template = parse_template(
        "{taken:%Y}/{make:lower}_{model}/{taken:%Y%m%d}_{category}_{keywords:2}_{stem}_{hash:6}"
        "_{taken_source}{counter}.{ext}"
    )
    values = {
        "taken": dt.datetime(2011, 1, 13, 14, 33, 39),
        "taken_source": "DateTimeOriginal",
        "make": "Apple",
        "model": "iPhone 4",
        "category": "animals",
        "keywords": ["dog", "grass", "ball"],
        "stem": "IMG_0001",
        "ext": "jpg",
        "hash": "abcdef0123",
    }
    assert template.render(values, 0, "unknown") == [
        "2011",
        "apple_iPhone 4",
        "20110113_animals_dog-grass_IMG_0001_abcdef_DateTimeOriginal.jpg",
    ]
    assert template.render(values, 2, "unknown")[-1].endswith("_DateTimeOriginal_2.jpg")
    missing = template.render({"taken": None, "stem": "x", "ext": "png"}, 0, "unknown")
    assert missing == ["unknown", "unknown_unknown", "unknown_unknown_unknown_x_unknown_unknown.png"]
    no_counter = parse_template("{stem}.{ext}")
    assert no_counter.render({"stem": "photo", "ext": "jpg"}, 3, "unknown") == ["photo_3.jpg"]


def test_jpeg_extension_is_lowercased_and_can_become_jpg(tmp_path: Path) -> None:
    from daemon.rename.values import naming_values

    photo = tmp_path / "Holiday.JPEG"
    photo.write_bytes(b"x")
    probe = {"taken": "2020-05-04T18:44:06", "taken_source": "DateTimeOriginal"}
    assert naming_values(photo, probe, {}, {}, jpeg_as_jpg=True)["ext"] == "jpg"
    assert naming_values(photo, probe, {}, {}, jpeg_as_jpg=False)["ext"] == "jpeg"
    fallback = naming_values(photo, {}, {}, {}, jpeg_as_jpg=True)
    assert fallback["taken_source"] == "mtime" and fallback["taken"].year >= 2024


@pytest.mark.parametrize("hostile", HOSTILE, ids=[repr(h)[:20] for h in HOSTILE])
def test_hostile_field_values_stay_inside_the_library_with_windows_legal_names(tmp_path: Path, hostile: str) -> None:
    library = tmp_path / "library"
    library.mkdir()
    template = parse_template("{category}/{make}/{keywords:3}_{stem}{counter}.{ext}")
    values = {"category": hostile, "make": hostile, "keywords": [hostile, "ok", hostile], "stem": hostile, "ext": "jpg"}
    for counter in (0, 7):
        parts = template.render(values, counter, "unknown")
        target = inside(library, parts)
        assert target.resolve().is_relative_to(library.resolve())
        assert len(parts) == 3, parts
        assert all(windows_legal(part) for part in parts), parts
        assert parts[-1].endswith("_7.jpg" if counter else ".jpg"), parts[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"ok")  # the platform accepts the name too
    assert all(p.resolve().is_relative_to(library.resolve()) for p in library.rglob("*"))


def test_a_symlinked_folder_pointing_outside_the_library_fails_the_job(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, rename_section("{taken:%Y}/{stem}.{ext}", enabled=True)))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    config.library.root.mkdir(parents=True)
    (config.library.root / "2011").symlink_to(outside)
    photo = config.watch[0].path / "a.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"x")
    store = Store(config.db_path)
    try:
        planner = Planner(config, ["probe", "hash"])
        values = {"taken": dt.datetime(2011, 1, 1), "stem": "a", "ext": "jpg"}
        with pytest.raises(PermanentError, match="unsafe"):
            planner.decide(store.conn, photo, values, {})
    finally:
        store.close()
    assert photo.exists() and not list(outside.iterdir())


def test_config_check_names_an_unknown_template_field_with_a_hint(tmp_path: Path) -> None:
    bad = write_config(tmp_path, rename_section("{taken:%Y}/{categroy}_{stem}.{ext}"))
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "config", "check", str(bad)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert f"{bad}: rename.template: unknown field {{categroy}} (did you mean {{category}}?)" in result.stderr
    escape = write_config(tmp_path, rename_section("../{stem}"))
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "config", "check", str(escape)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "rename.template: must not contain a '..' folder" in result.stderr
    assert "must contain {ext}" in result.stderr


def test_moves_never_replace_a_file_within_or_across_filesystems(tmp_path: Path) -> None:
    source = corpus() / "labelled" / "Nikon_D70.jpg"
    photo, target = tmp_path / "a.jpg", tmp_path / "sub" / "b.jpg"
    shutil.copy2(source, photo)
    target.parent.mkdir()
    target.write_bytes(b"someone else's")
    with pytest.raises(TargetExists):
        move_file(photo, target)
    assert target.read_bytes() == b"someone else's" and sha(photo) == sha(source)
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem (/dev/shm) to move across")
    across = shm / f"image-engine-test-{os.getpid()}.jpg"
    try:
        mtime = os.stat(photo).st_mtime_ns
        move_file(photo, across)
        assert not photo.exists() and sha(across) == sha(source) and os.stat(across).st_mtime_ns == mtime
        move_file(across, tmp_path / "back.jpg")
        assert not across.exists() and sha(tmp_path / "back.jpg") == sha(source)
        assert not part_path(tmp_path / "back.jpg").exists()
    finally:
        across.unlink(missing_ok=True)


def test_collisions_get_counters_and_identical_content_is_not_filed_twice(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, rename_section("{taken:%Y}/{taken:%Y%m%d}{counter}.{ext}")))
    drop, library = config.watch[0].path, config.library.root
    (library / "2011").mkdir(parents=True)
    source = corpus() / "labelled" / "Nikon_D70.jpg"
    (library / "2011" / "20110113.jpg").write_bytes(b"another photo")
    shutil.copy2(source, library / "2011" / "20110113_1.jpg")
    drop.mkdir(parents=True)
    new, same = drop / "new.jpg", drop / "same.jpg"
    new.write_bytes(source.read_bytes() + b"edited")
    shutil.copy2(source, same)
    store = Store(config.db_path)
    try:
        planner = Planner(config, ["probe", "hash"])
        values = {"taken": dt.datetime(2011, 1, 13), "ext": "jpg"}
        decision = planner.decide(store.conn, new, values, {})
        assert decision.move and decision.dest == library / "2011" / "20110113_2.jpg"
        duplicate = planner.decide(store.conn, same, values, {})
        assert not duplicate.move and "identical file is already at" in duplicate.reason
        assert str(library / "2011" / "20110113_1.jpg") in duplicate.reason
    finally:
        store.close()


def test_folder_rules_and_the_dedup_result_decide_where_a_file_goes(tmp_path: Path) -> None:
    camera = tmp_path / "camera"
    extra = f'[[watch]]\npath = "{camera}"\nmode = "in-place"\n\n[dedup]\nfolder = "Dupes"\n\n'
    config = load_config(write_config(tmp_path, extra + rename_section("{taken:%Y}/{stem}{counter}.{ext}")))
    drop, library = config.watch[0].path, config.library.root
    for folder in (drop, camera):
        folder.mkdir(parents=True)
        (folder / "a.jpg").write_bytes(b"photo")
    values = {"taken": dt.datetime(2011, 1, 13), "stem": "a", "ext": "jpg"}
    store = Store(config.db_path)
    try:
        planner = Planner(config, ["probe", "hash"])
        assert planner.decide(store.conn, drop / "a.jpg", values, {}).dest == library / "2011" / "a.jpg"
        skipped = planner.decide(
            store.conn, drop / "a.jpg", values, {"skip_filing": True, "duplicate_of": str(library / "x.jpg")}
        )
        assert not skipped.move and f"exact duplicate of {library / 'x.jpg'}" in skipped.reason
        moved = planner.decide(store.conn, drop / "a.jpg", values, {"move_to_duplicates": True})
        assert moved.dest == library / "Dupes" / "2011" / "a.jpg"  # ([dedup] folder = "../x" is a config error)
        kept = planner.decide(store.conn, camera / "a.jpg", values, {})
        assert not kept.move and kept.reason.startswith("kept in place")
        planner.settings.in_place = True
        assert planner.decide(store.conn, camera / "a.jpg", values, {}).reason.endswith(
            "already named as the template says"
        )
        renamed = planner.decide(store.conn, camera / "a.jpg", {**values, "stem": "b"}, {})
        assert renamed.move and renamed.dest == camera / "b.jpg"  # the file name only, in its own folder
    finally:
        store.close()


def test_since_accepts_dates_and_ages() -> None:
    from daemon.commands.rename import parse_since

    now = dt.datetime(2024, 5, 2, 12, 0).timestamp()
    assert parse_since("2h", now) == now - 7200 and parse_since("3d", now) == now - 3 * 86400
    assert parse_since("2024-05-01 14:30") == dt.datetime(2024, 5, 1, 14, 30).timestamp()
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")


# --- the real engine ------------------------------------------------------------------------------------


def test_a_drop_of_100_photos_is_filed_with_counters_and_undo_all_restores_every_path(engine_factory) -> None:
    engine: Engine = engine_factory(rename_section("{taken:%Y}/{taken:%Y-%m-%d}/{taken:%Y%m%d_%H%M%S}{counter}.{ext}"))
    staging = engine.folder / "staging"
    photos = distinct_variants(staging, 100, small_dated_jpegs(20))  # 5 distinct files per taken time
    copies = [staging / f"copy_of_{photos[i].name}" for i in (0, 1, 2)]
    for photo, copy in zip(photos, copies, strict=False):
        shutil.copy2(photo, copy)
    for path in [*photos, *copies]:
        shutil.copy2(path, engine.drop / path.name)
    before = tree(engine.drop)
    engine.wait_idle(103, timeout=120)

    filed = tree(engine.library)
    assert len(filed) == 100 and sorted(filed.values()) == sorted({sha(p) for p in photos})
    counters: dict[str, list[int]] = {}  # same taken time: name, name_1, name_2, ... never an overwrite
    for name in filed:
        base, _, number = name.removesuffix(".jpg").rpartition("_")
        base, number = (base, int(number)) if len(number) < 3 else (f"{base}_{number}", 0)
        counters.setdefault(base, []).append(number)
    assert all(sorted(numbers) == list(range(len(numbers))) for numbers in counters.values()), counters
    assert {len(numbers) for numbers in counters.values()} <= {5, 10}
    left = tree(engine.drop)
    assert len(left) == 3 and set(left.values()) <= set(filed.values())  # the identical copies stayed: not filed twice
    reasons = [json.loads(r["data"])["reason"] for r in engine.query("SELECT data FROM results WHERE stage = 'rename'")]
    # Caught by dedup (an exact copy of a file it already judged) or, racing it, by rename's content check.
    assert sum("identical file is already at" in r or "exact duplicate of" in r for r in reasons) == 3, reasons
    assert len(journal_rows(engine, "done")) == 100 and not journal_rows(engine, "open")
    paths = {row["path"] for row in engine.query("SELECT path FROM files")}
    assert {str(engine.library / name) for name in filed} <= paths

    blocker = engine.drop / photos[10].name
    blocker.mkdir()  # something now sits at one original place: undo must refuse and move nothing
    refused = engine.cli("undo", "--all")
    assert refused.returncode == 1 and "undo refused" in refused.stderr and str(blocker) in refused.stderr
    assert tree(engine.library) == filed
    blocker.rmdir()

    dry = engine.cli("undo", "--all", "--dry-run")
    assert dry.returncode == 0 and "100 file(s) would move back" in dry.stdout and tree(engine.library) == filed
    assert "100 file(s) would move back" in engine.cli("undo", "--since", "1h", "--dry-run").stdout
    undone = engine.cli("undo", "--all")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert tree(engine.drop) == before
    assert not any(engine.library.rglob("*")), "emptied date folders are removed"
    assert len(journal_rows(engine, "undone")) == 100
    assert "0 new or changed" in engine.cli("scan").stdout
    time.sleep(1.0)  # let the watcher's echo of the moves settle: it must not queue anything
    assert engine.status()["jobs"] == {**ZERO_ACTIVE, "done": 103, "failed": 0}


def test_raw_jpeg_and_sidecars_move_together_under_one_new_stem(engine_factory) -> None:
    # Both pairs are made from the same two corpus photos (byte-identical copies): dedup would keep one of each.
    engine: Engine = engine_factory(
        rename_section("{taken:%Y}/{taken:%Y%m%d_%H%M%S}_{stem}{counter}.{ext}") + "\n[dedup]\nenabled = false\n"
    )
    staging = engine.folder / "staging"
    staging.mkdir()
    jpeg, other = corpus() / "labelled" / "Nikon_D70.jpg", corpus() / "labelled" / "Canon_40D.jpg"
    # Pair 1: a RAW-like .dng the engine can read (JPEG bytes): it has its own job and follows the JPEG's stem.
    shutil.copy2(jpeg, staging / "IMG_0001.jpg")
    shutil.copy2(other, staging / "IMG_0001.dng")
    (staging / "IMG_0001.xmp").write_text("<xmp>shot</xmp>")
    (staging / "IMG_0001.jpg.json").write_text("{}")
    (staging / "IMG_0001.dng.xmp").write_text("<xmp>raw</xmp>")
    # Pair 2: a RAW nothing can decode: its job fails, and it moves along with its JPEG.
    shutil.copy2(other, staging / "DSC_0002.JPG")
    (staging / "DSC_0002.CR2").write_bytes(b"II*\x00 not really a raw file" * 50)
    (staging / "DSC_0002.CR2.xmp").write_text("<xmp>raw 2</xmp>")
    (staging / "DSC_0002.AAE").write_text("<plist/>")
    before = tree(staging)
    for path in staging.iterdir():
        os.link(path, engine.drop / path.name)
    engine.wait_idle(4, timeout=60)

    filed = sorted(str(p.relative_to(engine.library)) for p in engine.library.rglob("*") if p.is_file())
    assert [name for name in filed if "DSC_0002" in name] == [
        "2008/20080530_155601_DSC_0002.aae",
        "2008/20080530_155601_DSC_0002.cr2",
        "2008/20080530_155601_DSC_0002.cr2.xmp",
        "2008/20080530_155601_DSC_0002.jpg",
    ]
    # Whichever of the pair is filed first names the shot; the other follows under the same stem.
    pair = [name for name in filed if "IMG_0001" in name]
    stem = pair[0].split(".", 1)[0]
    assert stem in ("2008/20080315_095201_IMG_0001", "2008/20080530_155601_IMG_0001"), filed
    assert pair == [f"{stem}.{ext}" for ext in ("dng", "dng.xmp", "jpg", "jpg.json", "xmp")]
    assert not any(engine.drop.iterdir())
    states = engine.job_states()
    assert states[str(engine.library / "2008" / "20080530_155601_DSC_0002.cr2")] == "failed"  # its record followed it
    assert sha(engine.library / f"{stem}.dng") == sha(other) and sha(engine.library / f"{stem}.jpg") == sha(jpeg)

    job = engine.query("SELECT job_id FROM rename_journal WHERE state = 'done' AND src LIKE '%DSC_0002.JPG'")[0][
        "job_id"
    ]
    assert engine.cli("undo", "--job", str(job)).returncode == 0
    assert sorted(p.name for p in engine.drop.iterdir()) == [
        "DSC_0002.AAE",
        "DSC_0002.CR2",
        "DSC_0002.CR2.xmp",
        "DSC_0002.JPG",
    ]
    assert engine.cli("undo", "--all").returncode == 0
    assert tree(engine.drop) == before


def test_open_intents_are_finished_or_rolled_back_from_the_disk_at_start_up(engine_factory) -> None:
    engine: Engine = engine_factory(rename_section("{taken:%Y}/{stem}{counter}.{ext}"), start=False)
    source = corpus() / "labelled" / "Nikon_D70.jpg"
    engine.drop.mkdir(parents=True)
    store = Store(engine.data / "image-engine.db")
    intents = {}
    try:
        for name in ("never_moved", "moved", "linked", "undo_me"):
            photo = engine.drop / f"{name}.jpg"
            photo.write_bytes(source.read_bytes() + name.encode())
            info = os.stat(photo)
            stat = FileStat(info.st_size, info.st_mtime_ns, info.st_ino)
            assert queue.enqueue(store.conn, str(photo), str(engine.drop), stat, "rename") == "new"
            job = queue.claim(store.conn, "killed-worker", ["rename"], 1, 300)[0]  # a worker died holding it
            dest = engine.library / "interrupted" / f"{name}.jpg"
            move_id = rename.open_intent(
                store.conn,
                kind="file",
                job_id=job.id,
                file_id=job.file_id,
                src=str(photo),
                dest=str(dest),
                companions=[],
                reason="filed into the library by the template",
            )
            intents[name] = (move_id, photo, dest, sha(photo))
            dest.parent.mkdir(parents=True, exist_ok=True)
            if name == "moved":
                os.rename(photo, dest)  # the move happened, its confirmation did not
            elif name == "linked":
                os.link(photo, dest)  # the new name exists, the old one was not removed yet
            elif name == "undo_me":  # filed and confirmed; then an undo moved it back and was cut off
                os.rename(photo, dest)
                done = {"from": str(photo), "to": str(dest), "moved": True, "journal": move_id, "root": None}
                assert queue.complete(store.conn, job, done, 1.0, None, 300, record=rename.record_rename)
                undo_id = rename.open_intent(
                    store.conn,
                    kind="undo",
                    job_id=job.id,
                    file_id=job.file_id,
                    src=str(dest),
                    dest=str(photo),
                    companions=[],
                    undo_of=move_id,
                )
                os.rename(dest, photo)
        settings.put(store.conn, "paused", "1")  # no worker may touch these jobs: only start-up recovery
    finally:
        store.close()
    year = dt.datetime.fromtimestamp(os.stat(intents["never_moved"][1]).st_mtime).year  # no probe result: mtime
    engine.start()

    def journal_state(move_id: int) -> str:
        return engine.query("SELECT state FROM rename_journal WHERE id = ?", (move_id,))[0]["state"]

    paths = {row["id"]: row["path"] for row in engine.query("SELECT id, path FROM files")}
    never_id, never_src, never_dest, never_sha = intents["never_moved"]
    assert journal_state(never_id) == "rolled_back" and never_src.exists() and not never_dest.exists()
    assert str(never_src) in paths.values()
    for name in ("moved", "linked"):
        move_id, src, dest, digest = intents[name]
        assert journal_state(move_id) == "done" and not src.exists() and sha(dest) == digest
        assert str(dest) in paths.values()
    undo_of, undone, undone_dest, undone_sha = intents["undo_me"]
    assert journal_state(undo_id) == "done" and journal_state(undo_of) == "undone"
    assert sha(undone) == undone_sha and not undone_dest.exists() and str(undone) in paths.values()
    assert not journal_rows(engine, "open")

    assert engine.cli("resume").returncode == 0
    engine.wait_idle(4, timeout=60)
    refiled = engine.library / str(year) / "never_moved.jpg"
    assert not never_src.exists() and sha(refiled) == never_sha  # filed afresh, once
    for name in ("moved", "linked"):
        move_id, src, dest, digest = intents[name]
        job_id = engine.query("SELECT job_id FROM rename_journal WHERE id = ?", (move_id,))[0]["job_id"]
        assert engine.query("SELECT COUNT(*) AS n FROM rename_journal WHERE job_id = ?", (job_id,))[0]["n"] == 1
        assert engine.job_states()[str(dest)] == "done" and sha(dest) == digest
    assert engine.job_states()[str(undone)] == "done" and sha(undone) == undone_sha  # the undone file stays undone


def test_kill_9_during_a_run_of_50_files_then_restart_files_each_exactly_once(engine_factory) -> None:
    engine: Engine = engine_factory(rename_section("{taken:%Y}/{taken:%Y%m%d_%H%M%S}_{stem}{counter}.{ext}"))
    photos = distinct_variants(engine.folder / "staging", 50, small_dated_jpegs(25))
    for photo in photos:
        shutil.copy2(photo, engine.drop / photo.name)
    for target in (12, 30):
        wait_for(lambda target=target: len(journal_rows(engine)) >= target, 60, 0.02, f"{target} moves journaled")
        engine.stop(signal.SIGKILL)
        engine.start()
    engine.wait_idle(50, timeout=120)

    filed = tree(engine.library)
    assert sorted(filed.values()) == sorted(sha(p) for p in photos)  # every photo once, none twice, none lost
    assert not any(engine.drop.iterdir())
    done = journal_rows(engine, "done")
    assert len(done) == 50 and len({row["file_id"] for row in done}) == 50 and not journal_rows(engine, "open")
    paths = {row["id"]: row["path"] for row in engine.query("SELECT id, path FROM files")}
    for row in done:  # journal, store and disk agree
        assert Path(row["dest"]).exists() and not Path(row["src"]).exists()
        assert paths[row["file_id"]] == row["dest"]
    assert engine.status()["jobs"]["done"] == 50


def test_dry_run_records_the_plan_and_moves_nothing_until_it_is_turned_off(engine_factory) -> None:
    engine: Engine = engine_factory(rename_section(dry_run=True))
    photos = distinct_variants(engine.folder / "staging", 5, small_dated_jpegs(5))
    for photo in photos:
        shutil.copy2(photo, engine.drop / photo.name)
    before = tree(engine.drop)
    engine.wait_idle(5)
    plan = json.loads(engine.cli("plan", "--json").stdout)
    assert sorted(Path(move["src"]).name for move in plan) == sorted(p.name for p in photos)
    assert all(Path(move["dest"]).is_relative_to(engine.library) for move in plan)
    assert "5 planned move(s); nothing was moved" in engine.cli("plan").stdout
    assert tree(engine.drop) == before and not any(engine.library.rglob("*"))
    assert not journal_rows(engine, "done")

    engine.stop()
    engine.config.write_text(engine.config.read_text().replace("dry_run = true", "dry_run = false"))
    engine.start()
    engine.wait_idle(5)
    filed = {str(engine.library / name) for name in tree(engine.library)}
    assert filed == {move["dest"] for move in plan}  # the plan was what happened
    assert not any(engine.drop.iterdir())


@pytest.fixture
def library_on_other_filesystem(tmp_path: Path) -> Iterator[bool]:
    """tmp_path/library on another filesystem (/dev/shm) when there is one, so that filing copies across."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        yield False
        return
    elsewhere = Path(tempfile.mkdtemp(prefix="image-engine-library-", dir=shm))
    (tmp_path / "library").symlink_to(elsewhere, target_is_directory=True)
    try:
        yield True
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_the_engines_own_moves_never_queue_new_jobs_in_watched_folders(
    engine_factory, tmp_path: Path, library_on_other_filesystem: bool
) -> None:
    in_place = tmp_path / "camera"
    watches = (
        f'[[watch]]\npath = "{tmp_path / "library"}"\nmode = "in-place"\n\n'
        f'[[watch]]\npath = "{in_place}"\nmode = "in-place"\n\n'
    )
    engine: Engine = engine_factory(
        watches + rename_section("{taken:%Y}/{taken:%Y%m%d_%H%M%S}_{stem}.{ext}", in_place=True)
    )
    photos = distinct_variants(tmp_path / "staging", 8, small_dated_jpegs(8))
    for photo in photos[:5]:
        shutil.copy2(photo, engine.drop / photo.name)
    for photo in photos[5:]:
        shutil.copy2(photo, in_place / photo.name)
    engine.wait_idle(8)
    result = engine.cli("scan")
    assert result.returncode == 0 and "0 new or changed" in result.stdout, result.stdout
    wait_for(lambda: engine.status()["jobs"]["queued"] == 0, 5)

    filed = tree(engine.library)
    assert sorted(filed.values()) == sorted(sha(p) for p in photos[:5]) and not any(engine.drop.iterdir())
    if library_on_other_filesystem:  # the moves into the library were copies across filesystems
        assert all(os.stat(engine.library / name).st_dev != os.stat(engine.drop).st_dev for name in filed)
    renamed = sorted(p.name for p in in_place.iterdir())
    assert len(renamed) == 3 and all(name[:8].isdigit() and name.count("_") >= 2 for name in renamed), renamed
    jobs = engine.query("SELECT file_id, COUNT(*) AS n FROM jobs WHERE state != 'superseded' GROUP BY file_id")
    assert len(jobs) == 8 and all(row["n"] == 1 for row in jobs)
    assert engine.query("SELECT COUNT(*) AS n FROM files")[0]["n"] == 8
    time.sleep(1.0)  # the watcher's echo of the moves must not queue anything
    assert engine.status()["jobs"] == {**ZERO_ACTIVE, "done": 8, "failed": 0}
