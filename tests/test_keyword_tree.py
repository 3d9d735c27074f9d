"""The keyword tree Lightroom and digiKam read: one tree (subjects by the model's hierarchy, facts under Photo|),
subjects before facts, the engine's provenance only in XMP-imageengine; read back with exiftool from a real file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from daemon.config import TaggingConfig
from daemon.ml.base import ImagePrediction
from daemon.ml.labels import imagenet_by_label
from daemon.pipeline.facts import fact_keywords
from daemon.pipeline.keyword_tree import broader_path
from daemon.pipeline.vocabulary import Vocabulary
from daemon.tools.exiftool import CONFIG_FILE
from tests.support import Engine, corpus

TAGGED = "[tagging]\nenabled = true\nformat_keywords = true\n\n[rename]\nenabled = false\n"


def test_a_tagged_cat_photo_carries_one_keyword_tree_with_facts_last(engine_factory) -> None:
    engine: Engine = engine_factory(TAGGED)
    photo = engine.drop / "cat.jpg"
    shutil.copy2(corpus() / "labelled" / "felix_118.jpg", photo)  # an American shorthair, landscape format
    photo.chmod(0o644)
    engine.wait_idle(1, timeout=180)

    found = read_back(photo)
    hierarchy = as_list(found["XMP-lr:HierarchicalSubject"])
    subject = as_list(found["XMP-dc:Subject"])
    assert {path.split("|")[0] for path in hierarchy} <= {"Animals", "Photo"}, hierarchy  # one tree, no engine root
    assert "Animals|Cats" in hierarchy and "cat" in subject  # the broader "cat" is the Cats node, not a 2nd root
    assert not [path for path in hierarchy if "Image Engine" in path or "|Keywords|" in path]
    assert subject[-1] == "landscape format" and "Photo|Orientation|Landscape Format" in hierarchy
    assert as_list(found["IPTC:Keywords"]) == subject
    provenance = as_list(found["XMP-imageengine:ImageEngineKeywords"])
    assert "landscape format" in provenance and any(entry.startswith("cat=") for entry in provenance)

    shown = engine.cli("tags", str(photo)).stdout.splitlines()
    keyword_lines = [line for line in shown if line.startswith("  ")]
    assert keyword_lines[-1].split() == ["fact", "landscape", "format", "[Photo|Orientation|Landscape", "Format]"]


def test_format_keywords_are_off_by_default_and_broader_keywords_join_their_node() -> None:
    facts = {"blurry": True, "exposure": "dark", "orientation": "landscape"}
    assert fact_keywords(facts, TaggingConfig().format_keywords) == ["blurry", "dark"]
    assert fact_keywords(facts, True)[-1] == "landscape format"
    assert broader_path("Animals|Cats|Tabby Cat", "cat") == "Animals|Cats"
    assert broader_path("Animals|Fish|Sharks|Great White Shark", "fish") == "Animals|Fish"
    assert broader_path("Animals|Birds|Kite", "bird of prey") == "Animals|Birds|bird of prey"
    tabby = imagenet_by_label()["tabby"]
    assert tabby.hierarchy == "Animals|Cats|Tabby Cat"
    vocabulary = Vocabulary(TaggingConfig())
    prediction = ImagePrediction(labels=[("tabby", 0.9)])
    words = vocabulary.keywords(prediction, imagenet_by_label().__getitem__, True, ["dark"])
    found = [(k.keyword, k.hierarchy, k.score) for k in words]
    assert set(found[:2]) == {("tabby cat", "Animals|Cats|Tabby Cat", 0.9), ("cat", "Animals|Cats", 0.9)}
    assert found[2:] == [("dark", "Photo|Exposure|Dark", None)]  # a fact: after the subjects, no model score


def read_back(photo: Path) -> dict[str, object]:
    """What Lightroom and digiKam read, as exiftool (with the engine's namespace config) reports it."""
    command = ["exiftool", "-config", str(CONFIG_FILE), "-j", "-G1", "-XMP:all", "-IPTC:Keywords", str(photo)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)[0]


def as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
