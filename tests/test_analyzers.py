"""Third-party analyzers through the real engine: the README's example plugin, installed the way pip installs one.

Its keyword reaches the file and the search index; a plugin that crashes leaves the rest of the job done.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.metadata_support import exif
from tests.support import REPO, Engine, corpus, wait_for

CRASHING = """
from daemon.analyzers import Analyzer, Photo


class CrashAnalyzer(Analyzer):
    name = "crash"

    def analyze(self, photo: Photo):
        raise ValueError("this plugin always fails")
"""


def install_plugins(site: Path) -> None:
    """What pip leaves behind: the modules, and a dist-info whose entry_points.txt names them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"<!-- example-analyzer -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert example, "the README lost its example analyzer"
    site.mkdir()
    (site / "panorama_analyzer.py").write_text(example.group(1), encoding="utf-8")
    (site / "crash_analyzer.py").write_text(CRASHING, encoding="utf-8")
    info = site / "example_analyzers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-analyzers\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[image_engine.analyzers]\n"
        "panorama = panorama_analyzer:PanoramaAnalyzer\n"
        "crash = crash_analyzer:CrashAnalyzer\n",
        encoding="utf-8",
    )


def test_the_example_plugin_tags_the_file_and_a_crashing_one_fails_only_itself(
    engine_factory, tmp_path: Path, monkeypatch
) -> None:
    install_plugins(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", f"{REPO}:{tmp_path / 'site'}")
    engine: Engine = engine_factory('[analyzers]\nenabled = ["panorama", "crash"]\n', start=False)
    engine.drop.mkdir(parents=True, exist_ok=True)
    wide, square = engine.drop / "chap4_summary.jpg", engine.drop / "coffee.jpg"
    for target in (wide, square):
        shutil.copy(corpus() / "text" / target.name, target)
        target.chmod(0o644)
    engine.start()
    engine.wait_idle(2, timeout=120)
    assert set(engine.job_states().values()) == {"done"}, engine.job_states()

    assert "panorama" in exif(wide, "XMP-dc:Subject")["XMP-dc:Subject"]
    assert "XMP-dc:Subject" not in exif(square, "XMP-dc:Subject")
    rows = engine.query(
        "SELECT results.data FROM results JOIN files ON files.id = results.file_id"
        " WHERE results.stage = 'analyze' AND files.path = ?",
        (str(wide),),
    )
    analyzed = json.loads(rows[0]["data"])["analyzers"]
    assert analyzed["crash"]["error"] == "analyzer crash failed: ValueError: this plugin always fails"
    assert analyzed["panorama"]["fields"]["ratio"] >= 2
    found = json.loads(engine.cli("search", "panorama", "--json").stdout)["results"]
    assert [hit["path"] for hit in found] == [str(wide)]
    assert engine.stop() == 0


def test_an_enabled_plugin_that_is_not_installed_makes_photos_wait_and_says_why(engine_factory) -> None:
    engine: Engine = engine_factory('[analyzers]\nenabled = ["nowhere"]\n', start=False)
    engine.drop.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus() / "text" / "coffee.jpg", engine.drop / "coffee.jpg")
    engine.start()
    wait_for(lambda: "nowhere" in engine.cli("jobs", "--state", "waiting").stdout, 60, 0.5, "the waiting job")
    jobs = engine.cli("jobs", "--state", "waiting").stdout
    assert "analyzer nowhere: no installed package provides it" in jobs, jobs
    assert engine.stop() == 0
