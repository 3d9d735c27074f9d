"""Taken time: each step of the chain on a real file, filed by the real engine under the date it gives.

DateTimeOriginal -> CreateDate -> GPS date -> ModifyDate -> date in the file name -> mtime; impossible dates are passed
over (and `jobs` / `tags` say so), and no photo is ever filed into the future.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

from daemon.pipeline.taken import date_in_name, resolve
from tests.support import Engine, corpus

TEMPLATE = "{taken:%Y-%m-%d}/{stem}.{ext}"


def exiftool_write(path: Path, *assignments: str) -> Path:
    done = subprocess.run(["exiftool", "-q", "-overwrite_original", *assignments, str(path)], capture_output=True)
    assert done.returncode == 0, done.stderr
    return path


def staged(folder: Path, source: str, name: str | None = None) -> Path:
    target = folder / (name or Path(source).name)
    shutil.copy2(corpus() / source, target)
    return target


def set_mtime(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_each_step_of_the_chain_files_a_real_photo_under_its_own_date(engine_factory) -> None:
    engine: Engine = engine_factory(f'[rename]\ntemplate = "{TEMPLATE}"\n', start=False)
    stage = engine.folder / "staging"
    stage.mkdir()
    expected: dict[str, tuple[str, str]] = {}  # stem -> (date folder, taken_source)

    staged(stage, "photos/Canon EOS 7D.jpg", "original.jpg")
    expected["original"] = ("2010-12-12", "DateTimeOriginal")
    exiftool_write(staged(stage, "photos/Canon EOS 7D.jpg", "create.jpg"), "-DateTimeOriginal=", "-XMP:all=")
    expected["create"] = ("2010-12-12", "CreateDate")
    # A HEIF whose only date is the GPS stamp (UTC 20:47:53, offset -05:00 in the file: 15:47 local, same day).
    heif = staged(stage, "photos/IMG_5195.HEIC", "gps_only.heic")
    exiftool_write(heif, "-AllDates=", "-XMP:all=", "-GPSDateStamp=2021:04:11", "-GPSTimeStamp=20:47:53")
    expected["gps_only"] = ("2021-04-11", "GPSDateStamp")
    staged(stage, "labelled/Canon_40D_photoshop_import.jpg", "modify_only.jpg")  # only IFD0 ModifyDate 2008
    expected["modify_only"] = ("2008-07-31", "ModifyDate")
    exiftool_write(staged(stage, "photos/BSG1.tiff", "scan.tiff"), "-ModifyDate=2009:10:17 10:37:52")
    expected["scan"] = ("2009-10-17", "ModifyDate")
    staged(stage, "labelled/skimage_coffee.png", "coffee.png")  # PNG tIME chunk, 2013
    expected["coffee"] = ("2013-08-05", "PNG tIME")
    # Impossible dates are passed over: 2038 (unset clock), year 0000, before the first photograph.
    exiftool_write(staged(stage, "photos/Canon EOS 7D.jpg", "clock2038.jpg"), "-DateTimeOriginal=2038:01:19 03:14:08")
    expected["clock2038"] = ("2010-12-12", "CreateDate")
    exiftool_write(
        staged(stage, "labelled/Canon_40D_photoshop_import.jpg", "zeros.jpg"),
        "-DateTimeOriginal#=0000:00:00 00:00:00",
        "-CreateDate=1800:01:01 00:00:00",
    )
    expected["zeros"] = ("2008-07-31", "ModifyDate")
    for source, name, day in (  # photos with no metadata at all
        ("photos/Photo (1).webp", "IMG_20190704_123456.webp", "2019-07-04"),
        ("labelled/felix_101.jpg", "PXL_20210101_123456789.jpg", "2021-01-01"),
        ("labelled/felix_402.png", "Screenshot 2021-03-02 at 10.11.12.png", "2021-03-02"),
        ("labelled/felix_102.jpg", "IMG-20200101-WA0001.jpg", "2020-01-01"),
    ):
        staged(stage, source, name)
        expected[Path(name).stem] = (day, "file name")
    set_mtime(staged(stage, "labelled/felix_104.jpg", "no_date.jpg"), dt.datetime(2015, 6, 7, 8, 9, 10))
    expected["no_date"] = ("2015-06-07", "mtime")
    future = exiftool_write(staged(stage, "photos/Canon EOS 7D.jpg", "future.jpg"), "-AllDates=2038:01:19 03:14:08")
    set_mtime(future, dt.datetime(2040, 1, 1))  # everything in the file is impossible, its mtime too
    today = dt.date.today().isoformat()
    expected["future"] = (today, "first seen")

    engine.start()
    for path in sorted(stage.iterdir()):
        shutil.copy2(path, engine.drop / path.name)
    engine.wait_idle(len(expected), timeout=120)

    filed = {p.stem: p.parent.name for p in engine.library.rglob("*") if p.is_file()}
    assert filed == {stem: day for stem, (day, _) in expected.items()}
    sources = {
        Path(row["path"]).stem: row["taken_source"]
        for row in engine.query("SELECT files.path, media.taken_source FROM media JOIN files ON files.id = file_id")
    }
    assert sources == {stem: source for stem, (_, source) in expected.items()}
    assert not [day for day in filed.values() if day > today], "nothing is filed into the future"

    jobs = engine.cli("jobs", "--limit", "100").stdout
    assert "taken 2008-07-31 10:05:49 (from ModifyDate)" in jobs
    assert "DateTimeOriginal 2038-01-19 03:14:08 not trusted (year 2038 or later" in jobs
    shown = engine.cli("tags", str(engine.library / "2010-12-12" / "clock2038.jpg"))
    assert (
        "taken 2010-12-12 12:41:35 (from CreateDate; DateTimeOriginal 2038-01-19 03:14:08 not trusted" in shown.stdout
    )
    zeros = engine.cli("tags", str(engine.library / "2008-07-31" / "zeros.jpg")).stdout
    assert "DateTimeOriginal '0000:00:00 00:00:00' is not a date" in zeros and "1800-01-01" in zeros
    assert "used ModifyDate" in zeros
    future_line = engine.cli("tags", str(engine.library / today / "future.jpg")).stdout
    assert "(from first seen;" in future_line and "mtime 2040-01-01 00:00:00 not trusted" in future_line


def test_names_and_impossible_dates_follow_the_documented_rules() -> None:
    assert date_in_name("IMG_20190704_123456.jpg") == dt.datetime(2019, 7, 4, 12, 34, 56)
    assert date_in_name("PXL_20210101_123456789.jpg") == dt.datetime(2021, 1, 1, 12, 34, 56)
    assert date_in_name("Screenshot 2021-03-02 at 10.11.12.png") == dt.datetime(2021, 3, 2, 10, 11, 12)
    assert date_in_name("IMG-20200101-WA0001.jpg") == dt.datetime(2020, 1, 1)
    assert date_in_name("Dwayne_Johnson_2009_portrait.jpg") is None  # a year alone is not a date
    assert date_in_name("IMG_20190230_101010.jpg") is None  # no 30 February
    now = dt.datetime(2026, 12, 3, 12, 0)
    tomorrow = resolve([("DateTimeOriginal", "2026:12:04 11:00:00")], "x.jpg", 0, now)
    assert tomorrow.source == "DateTimeOriginal"  # within a day: time zones, a fast clock
    later = resolve([("DateTimeOriginal", "2026:12:05 12:00:00"), ("ModifyDate", "2020:01:01 00:00:00")], "x", 0, now)
    assert later.source == "ModifyDate" and "not trusted (in the future)" in (later.note or "")
    assert resolve([("DateTimeOriginal", "1826:01:01 00:00:00")], "x", 0, now).source == "DateTimeOriginal"
