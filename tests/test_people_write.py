"""Named people in the metadata plan and face regions read from files and sidecars: the user's keywords and other tools' regions
stay, People|Name goes into the keyword tree (a flat keyword only when asked), a second run changes nothing; MWG
and Microsoft regions written by exiftool read back as names with boxes on the oriented image.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from daemon.config import PeopleConfig
from daemon.metadata.people import NamedFaces
from daemon.metadata.plan import Options, make_plan
from daemon.metadata.tag_names import HIERARCHY, SUBJECT
from daemon.metadata.wanted import Wanted
from daemon.ml.faces import FaceModels
from daemon.people import regions
from daemon.pipeline.base import WorkItem
from daemon.pipeline.face_copies import FaceCopies
from daemon.pipeline.faces import FacesStage
from daemon.store.queue import Job
from daemon.tools.exiftool import ExifTool
from tests.support import corpus

ANNA = NamedFaces([{"name": "Anna", "box": [100, 50, 200, 300]}], [1000, 800])
THEIRS = {SUBJECT: ["holiday"], HIERARCHY: ["Trips|Rome"], regions.MWG_NAMES: ["Bo"], regions.MWG_WIDTH: ["100"]}


def test_a_named_face_adds_people_path_person_and_region_and_keeps_what_the_file_had() -> None:
    plan = make_plan(THEIRS, Wanted(people=ANNA), Options(hierarchy_root="Image Engine"))
    assert plan.writes[HIERARCHY] == ["Trips|Rome", "People|Anna"]  # outside the engine's root
    assert "Anna" not in plan.writes[SUBJECT]  # no flat keyword unless [people] write_keywords (Rome: the user's leaf)
    assert plan.writes[regions.PERSON_IN_IMAGE] == ["Anna"]
    assert regions.MWG_WIDTH not in plan.writes  # the file's own AppliedToDimensions stay
    assert plan.appends == {
        regions.MWG_LIST: ["{Area={X=0.20000,Y=0.25000,W=0.20000,H=0.37500,Unit=normalized},Type=Face,Name=Anna}"]
    }
    assert plan.present == {regions.MWG_NAMES: ["Anna"]}

    flat = make_plan(THEIRS, Wanted(people=ANNA), Options(people_keywords=True))
    assert flat.writes[SUBJECT] == ["holiday", "Rome", "Anna"]

    after = {**THEIRS, **plan.writes, regions.MWG_NAMES: ["Bo", "Anna"]}  # the file as the write left it
    again = make_plan(after, Wanted(people=ANNA), Options(hierarchy_root="Image Engine"))
    assert again.writes == {} and again.appends == {}  # nothing twice; Anna is not copied into dc:subject either

    # Anna's face removed (or Anna renamed): what the engine wrote of her goes, the user's own person stays.
    after[regions.PERSON_IN_IMAGE] = ["Anna", "Zoe"]
    gone = NamedFaces([], [1000, 800], ["Anna"], [{"name": "Anna", "box": [100, 50, 200, 300], "size": [1000, 800]}])
    taken_back = make_plan(after, Wanted(people=gone, withdrawn=gone.withdrawn), Options(hierarchy_root="Image Engine"))
    assert taken_back.writes[HIERARCHY] == ["Trips|Rome"]
    assert taken_back.writes[regions.PERSON_IN_IMAGE] == ["Zoe"]
    assert taken_back.removes == plan.appends  # exactly the region written before: Bo's is not touched


def test_names_with_structure_characters_are_escaped_for_exiftool(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copy(corpus() / "faces" / "Chris.jpeg", photo)
    photo.chmod(0o644)
    value = regions.struct_value("Smith, Jr. {the} [third] | x", [10, 20, 30, 40], [512, 678])
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-XMP-mwg-rs:RegionList+={value}", str(photo)], check=True
    )
    names = subprocess.run(["exiftool", "-s3", "-XMP-mwg-rs:RegionName", str(photo)], capture_output=True, text=True)
    assert names.stdout.strip() == "Smith, Jr. {the} [third] | x"


def test_mwg_and_microsoft_regions_read_back_as_names_with_boxes(tmp_path: Path) -> None:
    photo = tmp_path / "group.jpg"
    shutil.copy(corpus() / "faces" / "Pilots.jpg", photo)
    photo.chmod(0o644)
    mwg = (
        "{AppliedToDimensions={W=600,H=471,Unit=pixel},RegionList=["
        "{Area={X=0.5,Y=0.25,W=0.1,H=0.2,Unit=normalized},Type=Face,Name=Michael Collins},"
        "{Area={X=0.1,Y=0.1,W=0.1,H=0.1,Unit=normalized},Type=Focus,Name=Not a face}]}"
    )
    microsoft = "{Regions=[{PersonDisplayName=Buzz Aldrin,Rectangle=0.7|, 0.3|, 0.1|, 0.2}]}"
    subprocess.run(
        [
            "exiftool",
            "-q",
            "-overwrite_original",
            f"-XMP-mwg-rs:RegionInfo={mwg}",
            f"-XMP-MP:RegionInfoMP={microsoft}",
            str(photo),
        ],
        check=True,
    )
    tool = ExifTool()
    try:
        outcome = tool.run([regions.read_command(photo)])[0]
    finally:
        tool.close()
    found = regions.parse(outcome.stdout, (600, 471))
    assert [region.name for region in found] == ["Michael Collins", "Buzz Aldrin"]
    collins, aldrin = (tuple(round(v) for v in region.box) for region in found)
    assert collins == (270, 71, 60, 94)  # centre 0.5/0.25 -> top-left corner, in pixels
    assert aldrin == (420, 141, 60, 94)  # Microsoft's rectangles are top-left based already


def test_a_name_in_an_xmp_sidecar_names_the_detected_face_under_it(tmp_path: Path) -> None:
    photo = tmp_path / "chris.jpeg"
    shutil.copy(corpus() / "faces" / "Chris.jpeg", photo)
    photo.chmod(0o644)
    region = "{RegionList=[{Area={X=0.5,Y=0.4,W=0.4,H=0.45,Unit=normalized},Type=Face,Name=Chris Pratt}]}"
    subprocess.run(
        ["exiftool", "-q", f"-XMP-mwg-rs:RegionInfo={region}", "-o", str(tmp_path / "chris.xmp"), str(photo)],
        check=True,
    )
    stage = FacesStage(PeopleConfig(), FaceModels(), FaceCopies(tmp_path / "copies", 768), 10**8)
    job = Job(1, 1, str(photo), str(tmp_path), "f", "faces", 0, 0, "test")
    item = WorkItem(job=job, results=lambda stage: None, reduced_loader=lambda item: None)  # type: ignore[arg-type,return-value]
    faces = [{"box": [110.0, 100.0, 200.0, 300.0], "score": 0.9, "name": None}]  # under the region (512x678)
    try:
        assert stage.named_regions(item, [512, 678], faces) == 1
    finally:
        stage.close()
    assert [face["name"] for face in faces] == ["Chris Pratt"]
