"""Hostile and broken input: each gets a clear outcome (done, or failed with a reason) and stays untouched.

Covers odd image shapes and modes, broken EXIF, hostile file names, symlink loops, and the control API
and config fed garbage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from tests.chaos.integrity import rss_mb
from tests.chaos.test_faults import full_pipeline
from tests.support import REPO, Engine, corpus, exiftool_json, wait_for
from tests.test_spine import huge_png


def make_inputs(folder: Path) -> dict[str, str]:
    """Writes the hostile files; returns name -> expected outcome ('done' or a phrase of the failure)."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    Image.new("RGB", (1, 1), (255, 0, 0)).save(folder / "one_pixel.png")
    expected["one_pixel.png"] = "done"
    huge_png(folder / "huge_30000x20000.png", 30000, 20000)
    expected["huge_30000x20000.png"] = "decompression bomb"
    shutil.copy2(corpus() / "labelled" / "african_elephants_cmyk.jpg", folder / "cmyk.jpg")
    expected["cmyk.jpg"] = "done"
    Image.fromarray(np.linspace(0, 65535, 64 * 48, dtype=np.uint16).reshape(48, 64)).save(folder / "sixteen_bit.tif")
    expected["sixteen_bit.tif"] = "done"
    frames = [Image.new("RGB", (40, 30), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(folder / "animated.webp", save_all=True, append_images=frames[1:], duration=100)
    expected["animated.gif"] = expected["animated.webp"] = "done"
    good = (corpus() / "labelled" / "Nikon_D70.jpg").read_bytes()
    marker = good.find(b"Exif\x00\x00")
    broken_exif = bytearray(good)
    broken_exif[marker + 10 : marker + 18] = b"\xff\xff\xff\x7f\xff\xff\xff\x7f"  # IFD offsets far past the end
    (folder / "bad_exif_offsets.jpg").write_bytes(bytes(broken_exif))
    expected["bad_exif_offsets.jpg"] = "done"
    shutil.copy2(corpus() / "broken" / "image01551.jpg", folder / "invalid_exif.jpg")
    expected["invalid_exif.jpg"] = "done"
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    expected["truncated.jpg"] = "truncated"
    (folder / "zero.jpg").write_bytes(b"")
    expected["zero.jpg"] = "empty file"
    (folder / "text.jpg").write_text("hello")
    expected["text.jpg"] = "not an image"
    for name in (
        "new\nline.jpg",
        "name..with..dots...jpg",
        "ünï cödé 写真.jpg",
        ("x" * 251) + ".jpg",
        "-rf.jpg",
        "a:b*c?.jpg",
    ):
        (folder / name).write_bytes(good)
        expected[name] = "done"
    return expected


def test_hostile_files_get_clear_outcomes_and_stay_untouched(engine_factory, ledger) -> None:
    engine: Engine = engine_factory()
    staging = engine.folder / "staging"
    expected = make_inputs(staging)
    before = {name: (staging / name).read_bytes() for name in expected}
    loop = engine.drop / "loop"
    loop.mkdir()
    os.symlink(engine.drop, loop / "back_to_root")
    os.symlink(loop / "missing", engine.drop / "dangling.jpg")
    (engine.drop / "..hidden.jpg").write_bytes(before["cmyk.jpg"])  # a dot-file: ignored like the OS hides it
    for name in expected:
        shutil.copy2(staging / name, engine.drop / name)
    ledger.bad_inputs_tried += len(expected) + 2
    engine.wait_idle(len(expected), timeout=90)
    jobs = {Path(job["path"]).name: job for job in json.loads(engine.cli("jobs", "--json", "--limit", "500").stdout)}
    for name, outcome in expected.items():
        job = jobs[name]
        if outcome == "done":
            assert job["state"] == "done", (name, job)
        else:
            assert job["state"] == "failed" and outcome in job["error"], (name, job)
        assert (engine.drop / name).read_bytes() == before[name], f"{name!r} was modified"
    assert "..hidden.jpg" not in jobs
    assert "dangling.jpg" not in jobs and not any("back_to_root" in path for path in jobs)
    result = engine.cli("scan")  # a symlink loop must not hang the scan
    assert result.returncode == 0, result.stderr
    assert engine.process.poll() is None
    ledger.files_checked += len(expected)


def call(engine: Engine, path: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None) -> int:
    endpoint = json.loads((engine.data / "control.json").read_text())
    request = urllib.request.Request(f"http://127.0.0.1:{endpoint['port']}{path}", method=method, data=body)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_control_api_refuses_what_it_should(engine_factory, ledger) -> None:
    engine: Engine = engine_factory()
    token = (engine.data / "token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    cases = [
        (("/v1/pause", "POST", {}), 401),
        (("/v1/pause", "POST", {"Authorization": "Bearer nope"}), 401),
        (("/v1/pause", "POST", {"Authorization": token}), 401),
        (("/v1/pause", "POST", {**auth, "Origin": "https://evil.example"}), 403),
        (("/v1/pause", "OPTIONS", {"Origin": "https://evil.example"}), 403),
        (("/v1/status", "GET", {**auth, "Host": "attacker.example:80"}), 403),
        (("/v1/nothing", "GET", auth), 404),
        (("/../../etc/passwd", "GET", auth), 404),
        (("/v1/jobs?state=bogus", "GET", auth), 400),
        (("/v1/scan?id=notanumber", "GET", auth), 400),
    ]
    for (path, method, headers), status in cases:
        assert call(engine, path, method, headers) == status, (path, method, headers)
    assert call(engine, "/v1/scan", "POST", auth, b"[1,2,3]") == 400
    assert call(engine, "/v1/scan", "POST", auth, b"{not json") == 400
    assert engine.status()["state"] == "running"
    endpoint = json.loads((engine.data / "control.json").read_text())
    assert endpoint["host"] == "127.0.0.1"
    ledger.bad_inputs_tried += len(cases) + 2


def test_configs_with_wrong_types_exit_2_naming_the_key(tmp_path: Path, ledger) -> None:
    cases = {
        'data_dir = 5\n[[watch]]\npath = "/tmp/x"\n': "data_dir: expected a path string, got 5",
        '[[watch]]\npath = "/tmp/x"\nrecursive = 1\n': "watch[0].recursive: expected true or false, got 1",
        '[[watch]]\npath = "/tmp/x"\n[engine]\nworkers = "two"\n': "engine.workers: expected an integer, got 'two'",
        'watch = "/tmp/x"\n': "watch: expected a list, got '/tmp/x'",
        '[[watch]]\npath = "/tmp/x"\n[control]\nhost = "0.0.0.0"\n': "control.host: expected one of",
    }
    for index, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{index}.toml"
        path.write_text(text)
        result = subprocess.run(
            [sys.executable, "-m", "daemon", "config", "check", str(path)], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 2 and message in result.stderr and str(path) in result.stderr, result.stderr
    ledger.bad_inputs_tried += len(cases)
    wait_for(lambda: True, 1)


def tree(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


def test_keywords_and_templates_trying_to_escape_the_library(engine_factory, ledger, tmp_path: Path) -> None:
    hostile = {"espresso": "../../escape", "leopard": "CON:", "jaguar": "CON:"}
    synonyms = "synonyms = { " + ", ".join(f'"{label}" = "{word}"' for label, word in hostile.items()) + " }"
    synonyms += '\nexclude = ["drink", "big cat", "wild animal", "wild cat"]\n'  # so the hostile word comes first
    template = 'template = "{keywords:1}/{category}/{keywords:1}_{stem}{counter}.{ext}"'
    engine: Engine = engine_factory(full_pipeline(template, synonyms), start=False)
    names = ["skimage_coffee.png", "felix_301.jpg"]
    engine.drop.mkdir(parents=True)
    for name in names:
        shutil.copyfile(corpus() / "labelled" / name, engine.drop / name)
    outside = tmp_path.parent
    before = {path for path in tree(outside) if tmp_path not in path.parents} | tree(tmp_path)
    engine.start()
    ledger.bad_inputs_tried += 2
    engine.wait_idle(2, timeout=60)
    ledger.peak_rss_mb = max(ledger.peak_rss_mb, rss_mb(engine))
    assert engine.status()["jobs"]["failed"] == 0
    rows = engine.query(
        "SELECT files.path, tag.data AS tag, ren.data AS ren FROM files"
        " JOIN results tag ON tag.file_id = files.id AND tag.stage = 'tag'"
        " JOIN results ren ON ren.file_id = files.id AND ren.stage = 'rename'"
    )
    library = engine.library.resolve()
    written = {}
    for row in rows:
        keywords = [k["keyword"] for k in json.loads(row["tag"])["keywords"]]
        assert set(keywords) & set(hostile.values()), keywords  # the hostile keyword reached the template
        filed = Path(json.loads(row["ren"])["to"])
        assert json.loads(row["ren"])["moved"] and filed == Path(row["path"]) and filed.exists()
        relative = filed.resolve().relative_to(library)  # raises when outside
        for part in relative.parts:
            assert part not in ("..", ".") and not set(part) & set('<>:"/\\|?*'), relative
            assert part.split(".")[0].upper() not in ("CON", "PRN", "AUX", "NUL"), relative
        assert keywords[0] in hostile.values(), keywords  # {keywords:1} renders the hostile keyword
        assert keywords[0].strip("./:").lower() in relative.parts[0].lower(), relative  # its text, made safe
        written[filed] = [word for word in hostile.values() if word in keywords]
    after = {path for path in tree(outside) if tmp_path not in path.parents} | tree(tmp_path)
    new = {path for path in after - before if library not in path.resolve().parents and path.resolve() != library}
    new -= {path for path in new if engine.data in path.parents or path.parent == engine.folder}
    assert not new, sorted(new)  # nothing created outside the library (the data folder and engine log aside)
    for entry in exiftool_json(*written, args=("-XMP-dc:Subject",)):
        subject = entry.get("Subject", [])
        subject = subject if isinstance(subject, list) else [subject]
        assert set(written[Path(entry["SourceFile"])]) <= set(subject), entry  # plain text, as the tagger said it
    ledger.files_checked += len(written)
    ledger.notes.append(f"escaping keywords filed as {[str(p.relative_to(engine.library)) for p in written]}")
