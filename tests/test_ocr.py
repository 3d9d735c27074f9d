"""Text in photos through the real engine: RapidOCR on corpus scans and photos, stored, searchable, in the file.

A scanned page's words are found by `search`; the text reaches the file and exiftool reads it back; no text, no text.
"""

from __future__ import annotations

import json
import shutil

from daemon.analyzers import Analyzer, Findings, Photo
from daemon.metadata.plan import Options, make_plan
from daemon.metadata.tag_names import DESCRIPTION, ENGINE_TEXT
from daemon.metadata.wanted import Wanted
from tests.metadata_support import exif
from tests.support import Engine, corpus

SCAN, PHOTO, PLAIN = "phototest.tif", "chap4_summary.jpg", "coffee.jpg"


def test_ocr_text_is_stored_searchable_and_written_into_the_file(engine_factory) -> None:
    engine: Engine = engine_factory("[ocr]\nenabled = true\nwrite_description = true\n", start=False)
    engine.drop.mkdir(parents=True, exist_ok=True)
    for name in (SCAN, PHOTO, PLAIN):
        shutil.copy(corpus() / "text" / name, engine.drop / name)
        (engine.drop / name).chmod(0o644)  # the corpus is read-only: a read-only photo would get a sidecar
    engine.start()
    engine.wait_idle(3, timeout=300)
    assert set(engine.job_states().values()) == {"done"}, engine.job_states()

    result = engine.cli("search", "quick brown dog", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["results"]
    assert [hit["path"] for hit in hits] == [str(engine.drop / SCAN)]
    assert hits[0]["why"] == [{"field": "ocr", "words": ["brown", "dog", "quick"]}]
    plain = engine.cli("search", "text:machine learning")
    assert plain.stdout.splitlines()[-1] == f"{engine.drop / PHOTO}   [ocr: learning, machine]", plain.stdout

    stored = {
        row["path"]: row
        for row in engine.query(
            "SELECT files.path, ocr_text.text, ocr_text.lines FROM ocr_text JOIN files ON files.id = ocr_text.file_id"
        )
    }
    assert set(stored) == {str(engine.drop / SCAN), str(engine.drop / PHOTO)}  # the coffee cup has no text
    lines = json.loads(stored[str(engine.drop / SCAN)]["lines"])
    assert lines[0]["text"] == "This is a lot of 12 point text to test the" and lines[0]["confidence"] > 0.9
    assert len(lines[0]["box"]) == 4

    read_back = exif(engine.drop / PHOTO, "XMP-imageengine:ImageEngineText", "XMP-dc:Description")
    text = read_back["XMP-imageengine:ImageEngineText"][0]
    assert text.startswith("Machine learning is a vast subject") and text == stored[str(engine.drop / PHOTO)]["text"]
    assert read_back["XMP-dc:Description"] == [text]  # the photo had no description: write_description fills it
    scan_text = exif(engine.drop / SCAN, "XMP-imageengine:ImageEngineText")["XMP-imageengine:ImageEngineText"][0]
    assert "lazy fox" in scan_text
    assert exif(engine.drop / PLAIN, "XMP-imageengine:all", "XMP-dc:Description") == {}
    assert engine.stop() == 0


def test_a_users_description_is_never_replaced_by_ocr_text() -> None:
    options = Options(text_description=True)
    mine = make_plan({DESCRIPTION: ["our trip"]}, Wanted(text="EXIT 12"), options)
    assert DESCRIPTION not in mine.writes and mine.writes[ENGINE_TEXT] == ["EXIT 12"]
    ours = make_plan({DESCRIPTION: ["EXIT 12"], ENGINE_TEXT: ["EXIT 12"]}, Wanted(text="EXIT 13"), options)
    assert ours.writes[DESCRIPTION] == ["EXIT 13"]  # text we put there ourselves follows the new reading
    off = make_plan({}, Wanted(text="EXIT 12"), Options())
    assert DESCRIPTION not in off.writes


class _Broken(Analyzer):
    name = "broken"
    model = "none"

    def analyze(self, photo: Photo) -> Findings:
        raise RuntimeError("no such layer")


class _Words(Analyzer):
    name = "words"
    model = "rule"

    def analyze(self, photo: Photo) -> Findings:
        return Findings(text=f"{photo.reduced().width} px wide", keywords=[{"keyword": "wide", "score": 1.0}])


def test_an_analyzer_that_raises_fails_only_its_own_part(tmp_path) -> None:
    from PIL import Image

    from daemon.pipeline.analyze import AnalyzeStage
    from daemon.pipeline.base import WorkItem
    from daemon.store.queue import Job

    job = Job(1, 1, str(tmp_path / "a.jpg"), str(tmp_path), "f", "analyze", 0, 1, "me")
    item = WorkItem(job=job, results=lambda stage: {}, reduced_loader=lambda item: Image.new("RGB", (40, 30)))
    result = AnalyzeStage([_Broken(), _Words()], 10**8).run(item)
    assert result["analyzers"]["broken"] == {
        "model": "none",
        "error": "analyzer broken failed: RuntimeError: no such layer",
    }
    assert result["analyzers"]["words"]["text"] == "40 px wide" and result["analyzers"]["words"]["model"] == "rule"


def test_a_page_upside_down_or_on_its_side_reads_in_order() -> None:
    from PIL import Image

    from daemon.ml.ocr import TextReader

    reader = TextReader()
    for name in ("phototest-rotated-180.png", "phototest-rotated-L.png"):
        with Image.open(corpus() / "text" / name) as opened:
            page = opened.convert("RGB")
        lines = reader.read(page, 0.65)
        assert [line.text for line in lines[:3]] == [
            "This is a lot of 12 point text to test the",
            "ocr code and see if it works on all types",
            "of file format.",
        ], name
        assert all(0 <= x < page.width and 0 <= y < page.height for line in lines for x, y in line.box), name


def test_a_tight_crop_of_one_line_is_read_and_its_box_stays_inside_the_picture() -> None:
    from PIL import Image

    from daemon.ml.ocr import TextReader

    with Image.open(corpus() / "text" / "text_rec.jpg") as opened:  # 362x78: the sign's text fills it edge to edge
        crop = opened.convert("RGB")
    lines = TextReader().read(crop, 0.65)
    assert [line.text for line in lines] == ["韩国小馆"]
    assert all(0 <= x < crop.width and 0 <= y < crop.height for x, y in lines[0].box)


def test_the_gate_finds_text_in_signs_and_a_dense_page_and_none_in_photos_without_text() -> None:
    from PIL import Image, ImageOps

    from daemon.ml.ocr import TextReader

    def reduced(name: str) -> Image.Image:
        with Image.open(corpus() / "text" / name) as opened:
            copy = ImageOps.exif_transpose(opened).convert("RGB")
        copy.thumbnail((384, 384))  # what probe hands the analyzers
        return copy

    reader = TextReader()
    # 8087's small print shows only at 320 px: being a page (grey, mostly white) gets it the second look
    for name in ("8087_054.3B.tif", "french.jpg", "chap4_summary.jpg", "text_rec.jpg"):
        assert reader.has_text(reduced(name)) > 0, name
    for name in ("coffee.jpg", "pizza.jpg", "cat.jpg", "empty_black.jpg"):
        assert reader.has_text(reduced(name)) == 0, name
