"""Places from GPS, offline: real GPS photos filed by {country}/{city}, the place stored, shown, searchable and
written into the file (never over the user's own); without the `places` extra nothing breaks and the log says why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from daemon.config import parse_config
from daemon.errors import ConfigError
from daemon.rename.template import parse_template
from daemon.store import Store
from daemon.store.places import place_names
from daemon.store.tagging import file_id_of
from tests.support import Engine, corpus, exiftool_json
from tests.test_taken import exiftool_write

PLACES = '[places]\nwrite = true\n\n[rename]\ntemplate = "{country}/{city}/{stem}.{ext}"\n'
PHOTOS = {  # corpus file -> where its GPS position is
    "photos/Apple iPhone 4.jpg": "Italy/Rome",
    "photos/Apple iPhone 5.jpg": "United States/Seattle",
    "photos/IMG_5195.HEIC": "United States/Blue Springs",
    "photos/Samsung GT-I9000 (Galaxy S).jpg": "",  # GPS 0,0: no fix, no place
    "photos/Canon EOS 7D.jpg": "",  # no GPS at all
}


def test_gps_photos_are_filed_by_country_and_city_and_the_place_is_stored_shown_and_written(engine_factory) -> None:
    engine: Engine = engine_factory(PLACES)
    staging = engine.folder / "staging"
    staging.mkdir()
    florence = staging / "florence.jpg"
    shutil.copy2(corpus() / "photos/87_OSError.jpg", florence)
    exiftool_write(florence, "-XMP-photoshop:City=Firenze (mine)")  # the user's own city name stays
    for source in [*PHOTOS, florence]:
        target = engine.drop / Path(source).name
        shutil.copy2(corpus() / source, target)
        target.chmod(0o644)  # the corpus is read-only: a read-only photo would get a sidecar instead
    engine.wait_idle(len(PHOTOS) + 1, timeout=120)

    filed = {p.name: str(p.parent.relative_to(engine.library)) for p in engine.library.rglob("*") if p.is_file()}
    expected = {Path(source).stem + Path(source).suffix.lower(): folder or "." for source, folder in PHOTOS.items()}
    assert filed == {**expected, "florence.jpg": "Italy/Florence"}

    rome = engine.library / "Italy" / "Rome" / "Apple iPhone 4.jpg"
    shown = engine.cli("tags", str(rome)).stdout
    assert "place: Rome, Lazio, Italy (" in shown and "GeoNames" in shown
    [tags] = exiftool_json(rome, args=("-XMP:all",))
    assert tags["City"] == "Rome" and tags["State"] == "Lazio" and tags["Country"] == "Italy"
    assert tags["CountryCode"] == "IT" and tags["Location"] == "Rome"
    [mine] = exiftool_json(engine.library / "Italy" / "Florence" / "florence.jpg", args=("-XMP:all",))
    assert mine["City"] == "Firenze (mine)" and mine["Country"] == "Italy"
    [no_fix] = exiftool_json(engine.library / "Samsung GT-I9000 (Galaxy S).jpg", args=("-XMP-photoshop:all",))
    assert "City" not in no_fix and "Country" not in no_fix

    store = Store(engine.data / "image-engine.db")  # what the search index reads for each photo
    try:
        heic = file_id_of(store.conn, str(engine.library / "United States" / "Blue Springs" / "IMG_5195.heic"))
        assert heic is not None and place_names(store.conn, heic) == "Blue Springs Missouri United States US"
        no_fix = file_id_of(store.conn, str(engine.library / "Samsung GT-I9000 (Galaxy S).jpg"))
        assert no_fix is not None and place_names(store.conn, no_fix) == ""
    finally:
        store.close()


def test_without_the_places_extra_photos_are_filed_and_the_log_says_what_to_install(
    engine_factory, monkeypatch
) -> None:
    engine: Engine = engine_factory(PLACES, start=False)
    shim = engine.folder / "no_places_extra"
    shim.mkdir()
    (shim / "reverse_geocode.py").write_text("raise ImportError('No module named reverse_geocode')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")]))
    engine.start()
    shutil.copy2(corpus() / "photos/Apple iPhone 4.jpg", engine.drop / "rome.jpg")
    engine.wait_idle(1, timeout=60)

    assert (engine.library / "rome.jpg").exists()  # filed; the place folders are left out, not "unknown/unknown"
    log = (engine.data / "logs" / "image-engine.log").read_text()
    assert "pip install 'image-engine[places]'" in log
    assert engine.status()["jobs"]["failed"] == 0


def test_place_and_keyword_settings_are_checked_when_the_config_loads(tmp_path: Path) -> None:
    watch = [{"path": str(tmp_path / "drop")}]
    for section, problem in (
        ({"places": {"max_km": 0}}, "places.max_km: must be more than 0 and at most 1000 (got 0"),
        ({"tagging": {"format_keywords": "yes"}}, "tagging.format_keywords: expected true or false, got 'yes'"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config({"watch": watch, **section}, tmp_path / "config.toml")
        assert problem in "\n".join(caught.value.problems)
    template = parse_template("{taken:%Y}/{country}/{city:lower}/{stem}.{ext}")
    values = {"taken": None, "country": None, "city": None, "stem": "a", "ext": "jpg"}
    assert template.render(values, 0, "unknown") == ["unknown", "a.jpg"]  # no unknown/unknown folders
    assert template.render({**values, "country": "Italy", "city": "Rome"}, 0, "unknown") == [
        "unknown",
        "Italy",
        "rome",
        "a.jpg",
    ]
