"""Faces and people through the real engine: corpus photos in, faces found, grouped, named, and the names read back
from the files by exiftool (keywords, PersonInImage, MWG regions, on an oriented photo too); names other programs
left in a file seed people; the user's removal survives re-clustering; missing and broken models wait with a reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from daemon.ml.faces import missing
from tests.support import REQUIRE_CORPUS, Engine, corpus, wait_for, write_config

FACES = ("obama.jpg", "obama3.jpg", "two_people.jpg", "Pilots.jpg", "dog.jpg")
ROTATED = "obama_stored_sideways.jpg"


def need_face_models() -> None:
    reason = missing()
    if reason:
        if REQUIRE_CORPUS:
            pytest.fail(reason)
        pytest.skip(f"face models absent: {reason}")


def drop_faces(engine: Engine, names: tuple[str, ...]) -> None:
    engine.drop.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(corpus() / "faces" / name, engine.drop / name)
        (engine.drop / name).chmod(0o644)  # the corpus is read-only: a read-only photo would get a sidecar


def sideways_copy(source: Path, target: Path) -> None:
    """The photo stored turned a quarter left, with EXIF Orientation 6 saying how to show it upright."""
    with Image.open(source) as image:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(target, "JPEG", quality=92, exif=exif)


def regions(path: Path) -> list[dict]:
    out = subprocess.run(
        ["exiftool", "-j", "-struct", "-XMP-mwg-rs:RegionInfo", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0].get("RegionInfo", {}).get("RegionList", [])


def read(path: Path, *tags: str) -> dict:
    out = subprocess.run(["exiftool", "-j", *(f"-{t}" for t in tags), str(path)], capture_output=True, text=True)
    return json.loads(out.stdout)[0]


def faces_of(engine: Engine, path: Path) -> list[dict]:
    result = engine.cli("faces", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def all_done(engine: Engine, count: int, timeout: float = 120) -> None:
    """Every job done, read from the store (on a loaded machine the status command may time out meanwhile)."""
    wait_for(lambda: list(engine.job_states().values()) == ["done"] * count, timeout, 0.5, f"{count} jobs done")


def centre(box: list[float], size: tuple[int, int]) -> tuple[float, float]:
    return (box[0] + box[2] / 2) / size[0], (box[1] + box[3] / 2) / size[1]


def test_faces_are_found_grouped_named_and_written_where_other_programs_read_them(engine_factory) -> None:
    need_face_models()
    engine: Engine = engine_factory("[people]\nenabled = true\n", start=False)
    drop_faces(engine, FACES)
    sideways_copy(corpus() / "faces" / "obama.jpg", engine.drop / ROTATED)
    engine.start()
    all_done(engine, len(FACES) + 1, timeout=300)
    assert set(engine.job_states().values()) == {"done"}, engine.job_states()

    assert len(faces_of(engine, engine.drop / "Pilots.jpg")) == 3  # the Apollo 11 crew portrait
    assert faces_of(engine, engine.drop / "dog.jpg") == []  # a beagle: no face
    assert len(faces_of(engine, engine.drop / "two_people.jpg")) == 2

    result = engine.cli("people", "recluster")
    assert result.returncode == 0, result.stderr
    people = json.loads(engine.cli("people", "--json").stdout)
    obama = max(people, key=lambda person: person["faces"])
    obama_photos = {"obama.jpg", "obama3.jpg", "two_people.jpg", ROTATED}
    shown = json.loads(engine.cli("people", "show", str(obama["id"]), "--json").stdout)
    assert {Path(photo["path"]).name for photo in shown["photos"]} == obama_photos

    named = engine.cli("people", "name", str(obama["id"]), "Barack Obama")
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith(f"person {obama['id']} is Barack Obama; 4 photo(s)"), named.stdout
    all_done(engine, len(FACES) + 1)

    found = engine.cli("search", "--person", "barack obama", "--json")
    assert {Path(match["path"]).name for match in json.loads(found.stdout)["results"]} == obama_photos, found.stderr
    alike = engine.cli("similar", str(engine.drop / "obama.jpg"), "--by", "face", "--json")
    ranked = [Path(match["path"]).name for match in json.loads(alike.stdout)["results"]]
    assert set(ranked[:3]) == obama_photos - {"obama.jpg"} and ranked[0] == ROTATED, ranked  # then the others
    shown = engine.cli("people", "show", "Barack Obama")
    assert shown.stdout.startswith("Barack Obama: 4 photo(s)"), shown.stdout

    tags = read(
        engine.drop / "two_people.jpg", "XMP-lr:HierarchicalSubject", "XMP-iptcExt:PersonInImage", "XMP-dc:Subject"
    )
    assert tags["HierarchicalSubject"] == "People|Barack Obama"
    assert tags["PersonInImage"] == "Barack Obama"
    assert "Subject" not in tags  # [people] write_keywords is off: no flat keyword
    in_file = regions(engine.drop / "two_people.jpg")
    assert [(r["Name"], r["Type"]) for r in in_file] == [("Barack Obama", "Face")]  # the left one, not Biden
    assert float(in_file[0]["Area"]["X"]) < 0.5

    # The sideways photo: its region is on the upright image, where the face of the original is.
    upright = faces_of(engine, engine.drop / "obama.jpg")[0]
    with Image.open(engine.drop / "obama.jpg") as original:
        size = original.size
    area = regions(engine.drop / ROTATED)[0]["Area"]
    expected_x, expected_y = centre(upright["box"], size)
    assert abs(float(area["X"]) - expected_x) < 0.02 and abs(float(area["Y"]) - expected_y) < 0.02, area
    assert abs(float(area["W"]) - upright["box"][2] / size[0]) < 0.03
    sideways = read(
        engine.drop / ROTATED, "XMP-mwg-rs:RegionAppliedToDimensionsW", "XMP-mwg-rs:RegionAppliedToDimensionsH"
    )
    assert (sideways["RegionAppliedToDimensionsW"], sideways["RegionAppliedToDimensionsH"]) == size

    # A photo arriving with a digiKam-style region and name joins that person; another tool's region stays.
    arriving = engine.drop / "obama2.jpg"
    shutil.copy(corpus() / "faces" / "obama2.jpg", arriving)
    arriving.chmod(0o644)
    region_list = (
        "{AppliedToDimensions={W=1,H=1,Unit=normalized},RegionList=["
        "{Area={X=0.406,Y=0.274,W=0.341,H=0.266,Unit=normalized},Type=Face,Name=barack obama},"
        "{Area={X=0.9,Y=0.9,W=0.05,H=0.05,Unit=normalized},Type=Pet,Name=Bo}]}"
    )
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-XMP-mwg-rs:RegionInfo={region_list}", str(arriving)], check=True
    )
    wait_for(lambda: engine.job_states().get(str(arriving)) == "done", 120, message="obama2 processed")
    arrived = faces_of(engine, arriving)
    assert [(face["person_id"], face["assigned_by"]) for face in arrived] == [(obama["id"], "file")]
    assert [r["Name"] for r in regions(arriving)] == ["barack obama", "Bo"]  # nothing of theirs rewritten
    assert read(arriving, "XMP-lr:HierarchicalSubject")["HierarchicalSubject"] == "People|Barack Obama"

    # The user's word is final: a removed face stays out of every person after re-clustering.
    removed = faces_of(engine, engine.drop / "obama3.jpg")[0]
    assert engine.cli("people", "remove-face", str(removed["id"])).returncode == 0
    assert engine.cli("people", "recluster").returncode == 0
    after = faces_of(engine, engine.drop / "obama3.jpg")[0]
    assert (after["id"], after["person_id"], after["removed"]) == (removed["id"], None, True)
    # ... and the name the engine wrote into that photo is taken back out of its keywords and PersonInImage.
    all_done(engine, len(FACES) + 2)
    assert read(engine.drop / "obama3.jpg", "XMP-lr:HierarchicalSubject", "XMP-iptcExt:PersonInImage").keys() == {
        "SourceFile"
    }
    assert regions(engine.drop / "obama3.jpg") == []  # the face region the engine wrote is taken out too
    assert engine.stop() == 0


@pytest.mark.parametrize("problem", ["absent", "broken"])
def test_a_missing_or_broken_face_model_makes_jobs_wait_with_the_reason(tmp_path: Path, problem: str) -> None:
    need_face_models()  # without the extra the reason names what to install instead (test_people_models.py)
    corpus()
    detector = tmp_path / "centerface.onnx"
    if problem == "broken":
        detector.write_bytes(b"this is not an ONNX model")
    config = write_config(tmp_path, f'[people]\nenabled = true\ndetector = "{detector}"\n')
    engine = Engine(tmp_path, config)
    drop_faces(engine, ("Chris.jpeg",))
    engine.start()
    try:
        reason = wait_for(
            lambda: engine.query("SELECT state, wait_reason FROM jobs WHERE state = 'waiting'"), 120, message="a wait"
        )[0]["wait_reason"]
        expected = "not found: put the ONNX file there" if problem == "absent" else "cannot load the face detector"
        assert expected in reason and str(detector) in reason, reason
        assert engine.job_states() == {str(engine.drop / "Chris.jpeg"): "waiting"}
    finally:
        assert engine.stop() == 0
