"""A keyword the user rejects leaves the file (XMP, IPTC, hierarchy) and never comes back; one they add is written.

The metadata stage gets the user's corrections like any earlier result; files are corpus copies, exiftool is real.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from daemon.pipeline.base import WorkItem
from daemon.store.queue import Job
from tests.metadata_support import copy, exif, make_stage, tag_result

_ids = itertools.count(1000)
FIELDS = ("XMP-dc:Subject", "IPTC:Keywords", "XMP-lr:HierarchicalSubject", "XMP-imageengine:ImageEngineKeywords")


def run(stage: Any, photo: Path, tag: dict[str, Any], corrections: dict[str, list[str]] | None = None) -> None:
    number = next(_ids)
    results = {"tag": tag, "corrections": corrections}
    job = Job(number, number, str(photo), str(photo.parent), "fp", "metadata", 0, 1, "test")
    [outcome] = stage.run_batch([WorkItem(job=job, results=results.get, reduced_loader=lambda _: None)])
    assert not isinstance(outcome, BaseException), outcome


def everywhere(photo: Path) -> set[str]:
    found = exif(photo, *FIELDS)
    values = [v.rsplit("|", 1)[-1].split("=")[0] for tag in FIELDS for v in found.get(tag, [])]
    return {v.casefold() for v in values}


def test_rejected_keywords_leave_every_field_and_stay_gone_when_tagged_again(tmp_path: Path) -> None:
    photo = copy("metadata/exiftool_IPTC.jpg", tmp_path)  # the user's own keywords: ExifTool, Test, IPTC
    stage = make_stage(tmp_path)
    try:
        tagged = tag_result(("dog", 0.9, "Animals|Dogs"), "grass")
        run(stage, photo, tagged)
        assert {"dog", "grass", "exiftool", "test"} <= everywhere(photo)

        said = {"rejected": ["Dog", "Test"], "added": ["Holiday"]}
        run(stage, photo, tagged, said)  # merge mode: only the user's word removes anything
        assert {"dog", "test"}.isdisjoint(everywhere(photo)), exif(photo, *FIELDS)
        assert {"grass", "exiftool", "iptc", "holiday"} <= everywhere(photo)

        run(stage, photo, tag_result(("dog", 0.95, "Animals|Dogs"), "grass", "test"), said)  # a later tagging
        assert {"dog", "test"}.isdisjoint(everywhere(photo)), exif(photo, *FIELDS)
        assert "Holiday" in exif(photo, "XMP-dc:Subject")["XMP-dc:Subject"]
    finally:
        stage.close()


def test_the_users_caption_replaces_the_engines_and_later_tagging_never_replaces_it(tmp_path: Path) -> None:
    photo = copy("labelled/african_elephants.jpg", tmp_path)
    stage = make_stage(tmp_path)
    captions = ("XMP-dc:Description", "IPTC:Caption-Abstract", "XMP-imageengine:ImageEngineCaption")
    try:
        run(stage, photo, tag_result("elephant", caption="Animals in a field"))
        assert exif(photo, *captions)["XMP-dc:Description"] == ["Animals in a field"]

        said = {"caption": "Elephants at the waterhole, August 2010"}
        run(stage, photo, tag_result("elephant", caption="Animals in a field"), said)
        found = exif(photo, *captions)
        assert found["XMP-dc:Description"] == [said["caption"]] and found["IPTC:Caption-Abstract"] == [said["caption"]]
        assert "XMP-imageengine:ImageEngineCaption" not in found  # no longer the engine's: never replaced

        run(stage, photo, tag_result("elephant", caption="A herd of elephants"))  # a later tagging, any mode
        assert exif(photo, *captions)["XMP-dc:Description"] == [said["caption"]]
        replace = make_stage(tmp_path, mode="replace")
        try:
            run(replace, photo, tag_result("elephant", caption="A herd of elephants"))
        finally:
            replace.close()
        assert exif(photo, *captions)["XMP-dc:Description"] == [said["caption"]]
    finally:
        stage.close()


def test_the_users_category_replaces_the_taggers_in_the_file_and_stays(tmp_path: Path) -> None:
    photo = copy("labelled/african_elephants.jpg", tmp_path)
    stage = make_stage(tmp_path)
    fields = ("XMP-lr:HierarchicalSubject", "XMP-imageengine:ImageEngineCategory")
    try:
        run(stage, photo, tag_result("elephant", category="Animals"))
        assert "Animals" in exif(photo, *fields)["XMP-lr:HierarchicalSubject"]  # the category node (README tree)

        run(stage, photo, tag_result("elephant", category="Animals"), {"category": "Safari"})
        found = exif(photo, *fields)
        assert "Safari" in found["XMP-lr:HierarchicalSubject"]
        assert "Animals" not in found["XMP-lr:HierarchicalSubject"]  # the tagger's goes
        assert found["XMP-imageengine:ImageEngineCategory"] == ["Safari"]

        run(stage, photo, tag_result("elephant", category="Nature"), {"category": "Safari"})  # tagged again
        assert exif(photo, *fields)["XMP-imageengine:ImageEngineCategory"] == ["Safari"]
    finally:
        stage.close()
