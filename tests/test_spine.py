"""The running service end to end: drop real photos, everything is probed and hashed, bad files fail safely.

The engine runs as a subprocess with real watchdog threads, a real SQLite file and the real control API.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tests.support import Engine, copy_in, corpus, exiftool_json, wait_for


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def photo_sources(count: int) -> list[Path]:
    root = corpus()
    chosen = sorted((root / "photos").glob("*.jpg")) + sorted((root / "labelled").glob("*.jpg"))
    return chosen[:count]


def test_fifty_photos_are_done_with_the_exif_exiftool_reports(engine_factory) -> None:
    engine: Engine = engine_factory()
    sources = photo_sources(50)
    assert len(sources) == 50
    copy_in(sources, engine.drop)
    engine.wait_idle(50, timeout=120)
    states = engine.job_states()
    assert sorted(states) == sorted(str(engine.drop / s.name) for s in sources)
    assert set(states.values()) == {"done"}, {p: s for p, s in states.items() if s != "done"}

    # Probe reads standard EXIF (IFD0/ExifIFD, not maker notes or the thumbnail IFD1): compare with those groups.
    truth = {Path(row["SourceFile"]).name: row for row in exiftool_json(*sources, args=("-fast2", "-G1"))}
    rows = engine.query("SELECT files.path, files.sha256, media.* FROM files JOIN media ON media.file_id = files.id")
    assert len(rows) == 50
    for row in rows:
        expected = truth[Path(row["path"]).name]
        assert row["sha256"] == sha(Path(row["path"]))
        for ours, theirs in (("make", "IFD0:Make"), ("model", "IFD0:Model")):
            value = str(expected[theirs]).strip() if expected.get(theirs) not in (None, "") else None
            assert row[ours] == value, (row["path"], ours)
        assert (row["width"], row["height"]) == (expected["File:ImageWidth"], expected["File:ImageHeight"])
        orientation = expected.get("IFD0:Orientation", expected.get("XMP-tiff:Orientation"))  # Pillow falls back to XMP
        assert row["orientation"] == orientation, row["path"]
        if expected.get("ExifIFD:DateTimeOriginal"):
            assert row["taken"].replace("-", ":").replace("T", " ") == expected["ExifIFD:DateTimeOriginal"][:19]
            assert row["taken_source"] == "DateTimeOriginal"
        elif expected.get("ExifIFD:CreateDate"):
            assert row["taken_source"] == "CreateDate"
        elif expected.get("GPS:GPSDateStamp"):
            assert row["taken_source"] == "GPSDateStamp"
        elif expected.get("IFD0:ModifyDate"):
            assert row["taken_source"] == "ModifyDate"  # the chain (README "Taken time") goes on from here
        else:
            assert row["taken_source"] in ("ModifyDate", "file name", "mtime"), row["path"]  # XMP/PNG dates, names
        if expected.get("Composite:GPSLatitude") not in (None, ""):
            assert abs(row["gps_lat"] - expected["Composite:GPSLatitude"]) < 1e-4
            assert abs(row["gps_lon"] - expected["Composite:GPSLongitude"]) < 1e-4
        assert row["phash"] is not None and row["dhash"] is not None


def huge_png(path: Path, width: int, height: int) -> None:
    """A valid PNG header claiming width x height pixels, with a tiny (wrong-sized) body."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_broken_files_fail_with_a_reason_and_stay_byte_identical(engine_factory) -> None:
    engine: Engine = engine_factory()
    broken = [p for p in sorted((corpus() / "broken").iterdir()) if p.name != "image01551.jpg"]
    staging = engine.folder / "staging"
    staging.mkdir()
    made = {
        "zero.jpg": b"",
        "text.jpg": b"this is not a photo\n",
        "bad\nname \u00e9\u0301.jpg": b"also text",
    }
    for name, data in made.items():
        (staging / name).write_bytes(data)
    huge_png(staging / "bomb.png", 30000, 30000)
    unreadable = staging / "unreadable.jpg"
    shutil.copy2(corpus() / "labelled" / "Canon_40D.jpg", unreadable)
    unreadable.chmod(0)
    sources = broken + sorted(staging.iterdir())
    before = {p.name: (p.read_bytes() if p != unreadable else None) for p in sources}
    for source in sources:
        shutil.copy2(source, engine.drop / source.name) if source != unreadable else shutil.move(
            source, engine.drop / source.name
        )
    import os

    running_as_root = os.geteuid() == 0
    expected_failures = len(sources) - (1 if running_as_root else 0)
    engine.wait_idle(len(sources), timeout=60)
    failed = {
        Path(job["path"]).name: job for job in json.loads(engine.cli("jobs", "--state", "failed", "--json").stdout)
    }
    assert len(failed) == expected_failures, failed
    reasons = {name: job["error"] for name, job in failed.items()}
    assert "truncated" in reasons["african_elephants_truncated_file.jpg"]
    assert reasons["zero.jpg"] == "empty file (0 bytes)"
    assert "not an image" in reasons["text.jpg"]
    assert "30000x30000" in reasons["bomb.png"] and "decompression bomb" in reasons["bomb.png"]
    assert "not an image" in reasons["bad\nname \u00e9\u0301.jpg"]
    if not running_as_root:
        assert "permission denied" in reasons["unreadable.jpg"]
    for name, data in before.items():
        if data is not None:
            assert (engine.drop / name).read_bytes() == data, f"{name} was modified"
    assert engine.status()["state"] == "running"
    # The service keeps going: a good photo after the bad ones is done.
    copy_in([corpus() / "labelled" / "Nikon_D70.jpg"], engine.drop)
    wait_for(lambda: engine.job_states().get(str(engine.drop / "Nikon_D70.jpg")) == "done", 30)


def test_pause_and_resume_through_the_cli_and_pause_survives_restart(engine_factory) -> None:
    engine: Engine = engine_factory()
    assert engine.cli("pause").returncode == 0
    assert engine.status()["state"] == "paused"
    copy_in(photo_sources(3), engine.drop)
    wait_for(lambda: engine.status()["jobs"]["queued"] == 3, 20, message="3 queued while paused")
    assert engine.status()["jobs"]["done"] == 0
    assert engine.stop() == 0
    engine.start()
    assert engine.status()["state"] == "paused"
    assert engine.status()["jobs"] == {"queued": 3, "running": 0, "done": 0, "failed": 0, "waiting": 0}
    assert engine.cli("resume").returncode == 0
    engine.wait_idle(3)
    assert engine.status()["jobs"]["done"] == 3


def request(engine: Engine, path: str, token: str | None, method: str = "GET", headers: dict | None = None) -> int:
    endpoint = json.loads((engine.data / "control.json").read_text())
    assert endpoint["host"] == "127.0.0.1"
    req = urllib.request.Request(
        f"http://127.0.0.1:{endpoint['port']}/v1{path}", method=method, data=b"{}" if method == "POST" else None
    )
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_control_api_needs_the_token_and_refuses_browsers(engine_factory) -> None:
    engine: Engine = engine_factory()
    token_file = engine.data / "token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert request(engine, "/status", None) == 401
    assert request(engine, "/pause", None, "POST") == 401
    assert request(engine, "/pause", "wrong-token", "POST") == 401
    assert engine.status()["state"] == "running"  # nothing happened
    assert request(engine, "/pause", token, "POST", {"Origin": "http://evil.example"}) == 403
    assert request(engine, "/status", token, headers={"Host": "evil.example"}) == 403
    assert engine.status()["state"] == "running"
    assert request(engine, "/status", token) == 200
    token_file.unlink()
    result = engine.cli("status")
    assert result.returncode == 1 and result.stderr == (
        f"image-engine: the service refused the token in {token_file} (missing or not the running service's):"
        " restart the service to write it again, or check that --config names its config\n"
    )


def test_client_commands_say_when_the_service_is_not_running(engine_factory) -> None:
    engine: Engine = engine_factory(start=False)
    result = engine.cli("status")
    assert result.returncode == 3
    assert "not running" in result.stderr
