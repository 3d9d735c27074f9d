"""The metadata stage writes keywords, category and caption that the real exiftool reads back, in every format.

Inputs are tag/dedup result dicts (the stage's contract); files are corpus copies; exiftool is the real one.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from daemon.errors import PermanentError, WaitingError
from daemon.tools.exiftool import CONFIG_FILE
from tests.metadata_support import copy, exif, exif_many, folded, item, keywords_of, make_stage, sha, tag_result
from tests.support import corpus, corpus_rows

TAG = tag_result(
    ("dog", 0.91, "Animals|Dogs|Golden Retriever"),
    ("grass", 0.42, None),
    ("Café über 日本", 0.33, None),
    category="Travel",
    caption="A dog on the grass\nsecond line",
)
ENGINE_PATHS = {"Animals|Dogs|Golden Retriever", "grass", "Travel"}  # one tree, no "Image Engine|..." root


@pytest.fixture
def stage(tmp_path: Path):
    made = []

    def build(**settings):
        made.append(make_stage(tmp_path, **settings))
        return made[-1]

    yield build
    for each in made:
        each.close()


def test_every_format_reads_back_with_exiftool(tmp_path: Path, stage) -> None:
    files = {
        "jpeg": copy("photos/Olympus μ Digital 800.JPG", tmp_path),  # non-ASCII name, upper-case suffix
        "png": copy("labelled/skimage_coffee.png", tmp_path),
        "tiff": copy("photos/BSG1.tiff", tmp_path),
        "webp": copy("photos/Photo (1).webp", tmp_path),
        "heic": copy("photos/IMG_5195.HEIC", tmp_path),  # XMP goes after the image data (mdat) here
        "gif": copy("metadata/exiftool_GIF.gif", tmp_path),  # its own XMP follows a comment
        "raw": copy("labelled/Canon_40D.jpg", tmp_path, "IMG_0001.CR2"),  # a RAW-like file: only ever gets a sidecar
    }
    assert exif(files["gif"], "XMP-dc:Title")["XMP-dc:Title"] == ["GIF with XMP"]
    raw_before = sha(files["raw"])
    outcomes = make_stage_run(stage(), files.values())
    assert all(o["verified"] for o in outcomes), outcomes
    for kind, path in files.items():
        target = tmp_path / "IMG_0001.xmp" if kind == "raw" else path
        found = exif(target, "XMP-dc:all", "XMP-lr:all", "IPTC:all", "XMP-imageengine:all")
        assert {"dog", "grass", "Café über 日本"} <= set(found["XMP-dc:Subject"]), kind
        assert set(found["XMP-lr:HierarchicalSubject"]) >= ENGINE_PATHS, kind
        assert found["XMP-dc:Description"] == ["A dog on the grass\nsecond line"], kind
        assert found["XMP-imageengine:ImageEngineModel"] == ["efficientnet-lite0"]
        if kind in ("jpeg", "tiff"):
            assert set(found["IPTC:Keywords"]) == {"dog", "grass", "Café über 日本"}, kind
            assert found["IPTC:CodedCharacterSet"] == ["UTF8"]
            assert found["IPTC:Caption-Abstract"] == ["A dog on the grass\nsecond line"]
        else:  # PNG, WebP and sidecars: XMP is the canonical keyword store
            assert "IPTC:Keywords" not in found, kind
    assert sha(files["raw"]) == raw_before
    assert exif(files["gif"], "XMP-dc:Title")["XMP-dc:Title"] == ["GIF with XMP"]  # the file's own XMP is kept
    assert outcomes[-1]["target"] == str(tmp_path / "IMG_0001.xmp") and outcomes[-1]["sidecar"]
    leftovers = [p.name for p in tmp_path.iterdir() if "_original" in p.name or "_exiftool_tmp" in p.name]
    assert leftovers == [] and list((tmp_path / "guard").iterdir()) == []


def make_stage_run(metadata_stage, paths, tag=TAG, dedup=None):
    outcomes = metadata_stage.run_batch([item(path, tag, dedup) for path in paths])
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


def test_existing_keywords_are_kept_and_merged_without_case_duplicates(tmp_path: Path, stage) -> None:
    rows = [row["file"] for row in corpus_rows() if "has keywords" in row["facts"]]
    assert len(rows) >= 10, "MANIFEST lists the files that carry keywords"
    paths = [copy(name, tmp_path / str(index)) for index, name in enumerate(rows)]
    tags = ("XMP-dc:Subject", "IPTC:Keywords", "XMP-lr:HierarchicalSubject", "IPTC:By-line", "IPTC:CopyrightNotice")
    before = exif_many(paths, *tags)
    outcomes = make_stage_run(stage(), paths, tag_result("dog", "TEST", "xmp"))
    for path, outcome, old, new in zip(paths, outcomes, before, exif_many(paths, *tags), strict=True):
        users = old.get("XMP-dc:Subject", []) + old.get("IPTC:Keywords", [])
        assert folded(users) <= folded(new["XMP-dc:Subject"]), path
        assert set(old.get("IPTC:Keywords", [])) <= set(new.get("IPTC:Keywords", [])), path
        assert set(old.get("XMP-lr:HierarchicalSubject", [])) <= set(new["XMP-lr:HierarchicalSubject"]), path
        for other in ("IPTC:By-line", "IPTC:CopyrightNotice"):  # Latin-1 IPTC survives the switch to UTF-8
            assert old.get(other) == new.get(other), (path, other)
        assert len(folded(new["XMP-dc:Subject"])) == len(new["XMP-dc:Subject"]), "no case-only duplicates"
        assert "dog" in new["XMP-dc:Subject"]
        # A keyword the file already had (any case) is the user's: not claimed by the engine.
        had = folded(users)
        assert folded(outcome["engine_keywords"]) == {k for k in ("dog", "test", "xmp") if k not in had}, path


def test_replace_removes_only_what_the_engine_wrote(tmp_path: Path, stage) -> None:
    photo = copy("metadata/exiftool_IPTC.jpg", tmp_path)  # the user's keywords: ExifTool, Test, IPTC
    make_stage_run(stage(), [photo], tag_result("dog", "cat", ("owl", 0.7, "Animals|Birds|Owl"), category="Pets"))
    os.system(f"exiftool -q -overwrite_original -XMP-dc:Subject+=Holiday -IPTC:Keywords+=Holiday '{photo}'")

    dedup = {"group": 4, "keeper": False, "duplicate_of": "/x/keeper.jpg", "kind": "near", "action": "tag"}
    replace = stage(mode="replace")
    make_stage_run(replace, [photo], tag_result("dog", "bird", category="Nature"), dedup)
    found = exif(photo, "XMP-dc:Subject", "IPTC:Keywords", "XMP-lr:HierarchicalSubject", "XMP-imageengine:all")
    expected = ["ExifTool", "Test", "IPTC", "dog", "Holiday", "bird", "duplicate"]
    assert found["XMP-dc:Subject"] == expected and found["IPTC:Keywords"] == expected
    assert set(found["XMP-lr:HierarchicalSubject"]) == {
        "dog",
        "bird",
        "duplicate",
        "Nature",
    }
    assert sorted(found["XMP-imageengine:ImageEngineKeywords"]) == ["bird=0.500", "dog=0.500", "duplicate"]
    assert found["XMP-imageengine:ImageEngineCategory"] == ["Nature"]

    # Not a duplicate any more, and no keywords: the engine's go, the user's stay.
    make_stage_run(replace, [photo], tag_result(), {"group": None, "keeper": True, "action": "tag"})
    assert keywords_of(photo) == ["ExifTool", "Test", "IPTC", "Holiday"]
    assert "XMP-lr:HierarchicalSubject" not in exif(photo, "XMP-lr:HierarchicalSubject")


def test_a_users_caption_is_never_replaced(tmp_path: Path, stage) -> None:
    photo = copy("photos/Canon EOS 7D.jpg", tmp_path)  # carries "mit blauem Kleid" in XMP and IPTC
    bare = copy("labelled/felix_608.jpg", tmp_path)
    make_stage_run(stage(), [photo, bare], tag_result("dog", caption="first caption"))
    assert exif(photo, "XMP-dc:Description")["XMP-dc:Description"] == ["mit blauem Kleid"]
    make_stage_run(stage(), [bare], tag_result("dog", caption="better caption"))  # its own caption: replaced
    found = exif(bare, "XMP-dc:Description", "IPTC:Caption-Abstract", "XMP-imageengine:ImageEngineCaption")
    assert set(map(tuple, found.values())) == {("better caption",)}


def test_hostile_keywords_are_plain_text_and_create_no_files(tmp_path: Path, stage) -> None:
    photo = copy("labelled/felix_605.jpg", tmp_path / "photos")
    hostile = ["../../etc/passwd", "CON:", "-all=", "#comment", "$(touch pwned)", "a\\nb", "x<y & z", "key=value"]
    listing_before = sorted(p for p in tmp_path.rglob("*"))
    passwd_before = os.stat("/etc/passwd").st_mtime_ns
    make_stage_run(stage(), [photo], tag_result(*hostile, "line\nbreak"))
    found = keywords_of(photo)
    assert found == [*hostile, "line break"]
    assert sorted(p for p in tmp_path.rglob("*") if "guard" not in p.parts) == listing_before
    assert not (Path.cwd() / "pwned").exists() and os.stat("/etc/passwd").st_mtime_ns == passwd_before
    assert exif(photo, "ExifTool:Warning").get("ExifTool:Warning") is None  # the file is still sound


def test_provenance_namespace_tells_engine_keywords_from_the_users(tmp_path: Path, stage) -> None:
    photo = copy("metadata/exiftool_XMP.jpg", tmp_path)
    make_stage_run(stage(), [photo], TAG)
    with_config = exif(photo, "XMP-imageengine:all")
    assert with_config["XMP-imageengine:ImageEngineModel"] == ["efficientnet-lite0"]
    assert sorted(with_config["XMP-imageengine:ImageEngineKeywords"]) == [
        "Café über 日本=0.330",
        "dog=0.910",
        "grass=0.420",
    ]
    assert with_config["XMP-imageengine:ImageEngineCategory"] == ["Travel"]
    assert with_config["XMP-imageengine:ImageEngineVersion"]
    plain = exif(photo, "XMP-imageengine:all", config=False)  # any exiftool, without our config, sees them too
    assert sorted(plain["XMP-imageengine:Keywords"]) == sorted(with_config["XMP-imageengine:ImageEngineKeywords"])
    # A user's plain `exiftool -Keywords+=... -Model=...` (even with our config loaded) never lands in our namespace.
    os.system(f"exiftool -q -config '{CONFIG_FILE}' -overwrite_original -Keywords+=mine -Model=cam '{photo}'")
    assert "mine" in keywords_of(photo) + exif(photo, "IPTC:Keywords")["IPTC:Keywords"]
    assert "mine" not in str(exif(photo, "XMP-imageengine:all")) and "cam" not in str(
        exif(photo, "XMP-imageengine:all")
    )


def test_dedup_tag_keyword_only_for_non_keepers(tmp_path: Path, stage) -> None:
    keeper, copy_ = copy("duplicates/HTC Desire.jpg", tmp_path), copy("duplicates/HTC Desire.webp", tmp_path)
    group = {"group": 1, "kind": "near", "reason": "pHash distance 2", "action": "tag", "skip_filing": False}
    metadata = stage()
    outcomes = metadata.run_batch(
        [
            item(keeper, None, {**group, "keeper": True, "duplicate_of": None}),
            item(copy_, None, {**group, "keeper": False, "duplicate_of": str(keeper)}),
        ]
    )
    assert outcomes[0]["written"] == [] and "duplicate" not in keywords_of(keeper)
    assert keywords_of(copy_) == ["duplicate"] and outcomes[1]["verified"]


def test_sidecars_follow_the_naming_and_merge_with_existing_ones(tmp_path: Path, stage) -> None:
    camera = copy("labelled/Nikon_D70.jpg", tmp_path)
    os.system(f"exiftool -q -overwrite_original -XMP-dc:Subject=anole '{camera}'")  # keywords inside the RAW itself
    nef = camera.rename(tmp_path / "DSC_0001.NEF")
    fullname = stage(sidecar_naming="fullname")
    make_stage_run(fullname, [nef], tag_result("lizard"))
    assert (tmp_path / "DSC_0001.NEF.xmp").exists() and not (tmp_path / "DSC_0001.xmp").exists()
    assert keywords_of(tmp_path / "DSC_0001.NEF.xmp") == ["anole", "lizard"]
    assert make_stage_run(fullname, [nef], tag_result("lizard"))[0]["reason"].startswith("already up to date")

    arw = copy("labelled/Sony_HDR-HC3.jpg", tmp_path, "DSC_0002.ARW")
    existing = tmp_path / "DSC_0002.xmp"  # e.g. from Lightroom: the user's keywords and a rating
    os.system(f"exiftool -q -o '{existing}' -XMP-dc:Subject=film -XMP-xmp:Rating=4 -XMP-dc:Title=Roll")
    make_stage_run(stage(sidecar_naming="fullname"), [arw], tag_result("negative"))
    assert not (tmp_path / "DSC_0002.ARW.xmp").exists(), "an existing sidecar is used, whatever its naming"
    found = exif(existing, "XMP-dc:all", "XMP-xmp:Rating")
    assert found["XMP-dc:Subject"] == ["film", "negative"] and found["XMP-xmp:Rating"] == ["4"]
    assert found["XMP-dc:Title"] == ["Roll"]

    # Two RAWs with one stem share photo.xmp (basename naming): both keep their keywords.
    pair = [copy("labelled/Canon_40D.jpg", tmp_path, "pair.cr2"), copy("labelled/Canon_40D.jpg", tmp_path, "pair.dng")]
    metadata = stage()
    outcomes = metadata.run_batch([item(pair[0], tag_result("iguana")), item(pair[1], tag_result("reptile"))])
    assert all(o["verified"] for o in outcomes)
    assert keywords_of(tmp_path / "pair.xmp") == ["iguana", "reptile"]


def test_read_only_files_get_a_sidecar_or_stay_untouched(tmp_path: Path, stage) -> None:
    photo = copy("labelled/felix_608.jpg", tmp_path)
    os.chmod(photo, 0o444)
    before = sha(photo)
    [refused] = stage(sidecar_for_readonly=False).run_batch([item(photo, TAG)])
    assert isinstance(refused, PermanentError) and "read-only" in str(refused) and str(photo) in str(refused)
    assert sha(photo) == before and not photo.with_suffix(".xmp").exists()

    [done] = stage().run_batch([item(photo, TAG)])
    assert done["sidecar"] and sha(photo) == before
    assert "dog" in keywords_of(photo.with_suffix(".xmp"))
    assert stat.S_IMODE(os.stat(photo).st_mode) == 0o444


def test_a_photo_whose_xmp_does_not_take_the_write_gets_a_sidecar_and_stays_identical(tmp_path: Path, stage) -> None:
    """A JPEG with two XMP segments (as some buggy editors leave them): exiftool exits 0 yet changes nothing. The
    original is put back byte for byte and the keywords go to a sidecar, which exiftool reads back."""
    source = (corpus() / "photos" / "Canon_PowerShot_S40.jpg").read_bytes()
    photo = tmp_path / "two_xmp.jpg"
    photo.write_bytes(source[:2] + xmp_segment("first") + xmp_segment("second") + source[2:])
    before, mtime = sha(photo), os.stat(photo).st_mtime_ns
    [outcome] = stage().run_batch([item(photo, TAG)])
    assert outcome["verified"] and outcome["sidecar"] and outcome["target"] == str(tmp_path / "two_xmp.xmp")
    assert "did not read back" in outcome["fallback"] and "Duplicate XMP" in outcome["fallback"]
    assert sha(photo) == before and os.stat(photo).st_mtime_ns == mtime
    assert {"first", "second", "dog", "grass"} <= set(keywords_of(tmp_path / "two_xmp.xmp"))
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["two_xmp.jpg", "two_xmp.xmp"]


def test_a_photo_with_a_duplicated_xmp_property_gets_a_sidecar(tmp_path: Path, stage) -> None:
    source = (corpus() / "photos" / "Canon_PowerShot_S40.jpg").read_bytes()
    photo = tmp_path / "dup.jpg"
    photo.write_bytes(source[:2] + xmp_segment("first", twice=True) + source[2:])
    before = sha(photo)
    [outcome] = stage().run_batch([item(photo, TAG)])
    assert outcome["sidecar"] and "Duplicate XMP property" in outcome["fallback"] and sha(photo) == before
    assert "dog" in keywords_of(tmp_path / "dup.xmp") and "dog" not in keywords_of(photo)


def test_a_jpeg_costs_exiftool_one_pass_and_still_reads_back(tmp_path: Path, stage) -> None:
    """Plain JPEGs are read before and verified after in Python: exiftool only writes (one command per photo)."""
    photos = [copy("labelled/felix_608.jpg", tmp_path, f"{n}.jpg") for n in range(3)]
    metadata = stage()
    metadata.prepare()
    sent: list[int] = []
    run = metadata.tool.run
    metadata.tool.run = lambda commands: sent.append(len(commands)) or run(commands)  # counts, changes nothing
    outcomes = metadata.run_batch([item(p, TAG) for p in photos])
    assert all(o["verified"] and not o["sidecar"] for o in outcomes)
    assert sent == [3], "one exiftool round trip: the writes"
    assert all({"dog", "grass", "Café über 日本"} <= set(keywords_of(p)) for p in photos)


def xmp_segment(keyword: str, twice: bool = False) -> bytes:
    subject = f"<dc:subject><rdf:Bag><rdf:li>{keyword}</rdf:li></rdf:Bag></dc:subject>"
    packet = (
        "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>"
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description rdf:about=''"
        f" xmlns:dc='http://purl.org/dc/elements/1.1/'>{subject * (2 if twice else 1)}"
        "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
    ).encode()
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body


def test_broken_files_fail_with_a_clear_reason_and_stay_byte_identical(tmp_path: Path, stage) -> None:
    broken = {
        "african_elephants_truncated_file.jpg": "truncated",
        "corrupt_boxes.heif": "Invalid atom size",
        "fuzzed_crash-2b10c204.tif": "Bad IFD",
    }
    paths = [copy(f"broken/{name}", tmp_path) for name in broken]
    before = {path: sha(path) for path in paths}
    outcomes = stage().run_batch([item(path, TAG) for path in paths])
    for path, outcome, reason in zip(paths, outcomes, broken.values(), strict=True):
        assert isinstance(outcome, PermanentError), (path, outcome)
        # One line: the cause once; the job that carries it names the file (`image-engine jobs` shows both).
        assert reason in str(outcome) and str(outcome).count(str(path)) <= 1, outcome
        assert sha(path) == before[path]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(broken)


def test_without_exiftool_jpegs_get_piexif_and_xmp_that_exiftool_reads(tmp_path: Path, stage, caplog) -> None:
    jpegs = [copy("labelled/felix_605.jpg", tmp_path), copy("metadata/exiftool_XMP.jpg", tmp_path)]
    png = copy("labelled/skimage_coffee.png", tmp_path)
    png_before = sha(png)
    metadata = stage(exiftool="/nonexistent/exiftool")
    with caplog.at_level(logging.WARNING, logger="image_engine.metadata"):
        outcomes = metadata.run_batch([item(path, TAG) for path in [*jpegs, png]])
        metadata.run_batch([item(copy("labelled/felix_608.jpg", tmp_path), TAG)])
    assert [r.getMessage() for r in caplog.records].count(
        "exiftool unavailable: JPEG metadata is written with piexif, other formats wait"
    ) == 1
    assert "apt install libimage-exiftool-perl" in caplog.records[0].error
    assert isinstance(outcomes[2], WaitingError) and "exiftool" in outcomes[2].reason and sha(png) == png_before

    bare = exif(jpegs[0], "XMP-dc:all", "XMP-lr:all", "IFD0:XPKeywords", "IFD0:ImageDescription", "XMP-imageengine:all")
    assert bare["XMP-dc:Subject"] == ["dog", "grass", "Café über 日本"]
    assert set(bare["XMP-lr:HierarchicalSubject"]) >= ENGINE_PATHS
    assert bare["XMP-dc:Description"] == ["A dog on the grass\nsecond line"]
    assert bare["IFD0:XPKeywords"] == ["dog;grass;Café über 日本"]
    assert bare["IFD0:ImageDescription"] == ["A dog on the grass\nsecond line"]
    assert bare["XMP-imageengine:ImageEngineKeywords"]
    # An existing (UTF-16) XMP packet is edited, not replaced: its other properties survive.
    rich = exif(jpegs[1], "XMP-dc:all", "XMP-photoshop:City")
    assert rich["XMP-dc:Subject"] == ["ExifTool", "Test", "XMP", "dog", "grass", "Café über 日本"]
    assert rich["XMP-photoshop:City"] == ["Kingston"] and rich["XMP-dc:Creator"] == ["Phil Harvey"]
    assert all(outcome["verified"] for outcome in outcomes[:2])


def test_unicode_forms_merge_and_a_root_holds_the_whole_keyword_tree(tmp_path: Path, stage) -> None:
    photo = copy("labelled/felix_608.jpg", tmp_path)
    os.system(f"exiftool -q -overwrite_original '-XMP-dc:Subject=cafe\u0301' '{photo}'")  # decomposed é
    tag = tag_result("café", ("owl", 0.8, "Birds|Owl"), category="Nature")
    make_stage_run(stage(hierarchy_root="AI"), [photo], tag)
    found = exif(photo, "XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-imageengine:ImageEngineCategory")
    assert found["XMP-dc:Subject"] == ["cafe\u0301", "owl"]  # one café, in the user's form
    assert found["XMP-lr:HierarchicalSubject"] == ["AI|café", "AI|Birds|Owl", "AI|Nature"]
    assert found["XMP-imageengine:ImageEngineCategory"] == ["Nature"]


def test_digikam_tags_and_other_hierarchies_are_read_and_kept_in_step(tmp_path: Path, stage) -> None:
    photo = copy("labelled/Pentax_K10D.jpg", tmp_path)
    os.system(
        f"exiftool -q -overwrite_original -XMP-digiKam:TagsList=Places/Paris -XMP-microsoft:LastKeywordXMP=People/Ann"
        f" '{photo}'"
    )
    make_stage_run(stage(digikam_tags=True), [photo], tag_result("rose", category="Garden"))
    found = exif(photo, "XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList", "XMP-microsoft:all")
    assert found["XMP-dc:Subject"] == ["Paris", "Ann", "rose"]
    hierarchy = ["Places|Paris", "People|Ann", "rose", "Garden"]
    assert found["XMP-lr:HierarchicalSubject"] == hierarchy
    assert found["XMP-digiKam:TagsList"] == [h.replace("|", "/") for h in hierarchy]
    assert found["XMP-microsoft:LastKeywordXMP"] == [h.replace("|", "/") for h in hierarchy]


def test_backups_and_modification_time(tmp_path: Path, stage) -> None:
    kept, backed = copy("labelled/felix_605.jpg", tmp_path), copy("labelled/felix_608.jpg", tmp_path)
    original, mtime = sha(backed), os.stat(kept).st_mtime_ns
    make_stage_run(stage(), [kept], TAG)
    assert os.stat(kept).st_mtime_ns == mtime and not Path(f"{kept}_original").exists()
    make_stage_run(stage(backups=True, keep_mtime=False), [backed], TAG)
    assert sha(Path(f"{backed}_original")) == original and "dog" in keywords_of(backed)


def test_exiftool_temp_left_by_an_earlier_engine_is_removed_at_once(tmp_path: Path) -> None:
    import os

    from daemon.errors import RetryableError
    from daemon.metadata import targets
    from daemon.tools.exiftool import temp_file_of

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xd9")
    temp = temp_file_of(photo)
    temp.write_bytes(b"half written")
    with pytest.raises(RetryableError, match="writing photo.jpg right now"):
        targets.clear_stale_temp(photo)  # young and made while this process lives: someone is writing
    earlier = targets.PROCESS_STARTED - 5  # a few seconds old, but from before this engine started (kill -9)
    os.utime(temp, (earlier, earlier))
    targets.clear_stale_temp(photo)
    assert not temp.exists()


def test_the_python_reader_leaves_to_exiftool_what_it_does_not_read(tmp_path: Path) -> None:
    """Face regions and people names, another IPTC block in a trailer, a second XMP packet: exiftool reads them."""
    from daemon.metadata import quick_read

    plain = copy("labelled/felix_608.jpg", tmp_path, "plain.jpg")
    assert quick_read.read(plain) is not None
    person = copy("labelled/felix_608.jpg", tmp_path, "person.jpg")
    os.system(f"exiftool -q -overwrite_original -XMP-iptcExt:PersonInImage=Ann '{person}'")
    assert quick_read.read(person) is None
    source = (corpus() / "photos" / "Canon_PowerShot_S40.jpg").read_bytes()
    two = tmp_path / "two.jpg"
    two.write_bytes(source[:2] + xmp_segment("first") + xmp_segment("second") + source[2:])
    assert quick_read.read(two) is None
