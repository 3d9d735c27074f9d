"""Duplicate detection on real photos through the real stages and a real SQLite file (driven in-process).

Near-duplicates made from corpus photos must join their original's group; similar shots of one scene (stereo pair,
bracketed exposures, a burst frame) must not. Precision and recall on the set are printed (pytest -s).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from daemon.config import ConfigError, DedupConfig, parse_config
from daemon.dedup.grouping import Facts, Link, plan
from daemon.dedup.index import hamming
from daemon.store import dedup as dedup_store
from daemon.store import dedup_groups, embeddings, files, queue, transaction
from daemon.store.dedup import StaleDecision
from tests.dedup_support import (
    VARIANTS,
    InProcessEngine,
    burst_frame,
    crop_copy,
    make_variant,
    make_variants,
    pair_scores,
    screenshot_of,
)
from tests.support import corpus

ORIGINALS = [
    "photos/Apple iPhone 4.jpg",
    "photos/Canon PowerShot S40 (2).jpg",
    "photos/Nikon D5000.jpg",
    "photos/HP PhotoSmart 735.jpg",
    "photos/Sony DSC-HX5V (2).jpg",
    "labelled/skimage_astronaut.png",
]
# The corpus's own copies of one picture (MANIFEST: duplicates/ groups A, B, C, E, F; the elephant edits).
SAME_PICTURE = {
    "htc": ["duplicates/HTC Desire.jpg", "duplicates/HTC Desire.webp"],
    "d1x": ["duplicates/Nikon D1X.jpg", "duplicates/Nikon D1X.webp"],
    "heic": ["duplicates/IMG_2927.HEIC", "duplicates/exif-at-eof.heic"],
    "kodak": [
        "duplicates/Kodak CLAS Digital Film Scanner HR200 (1).jpg",
        "duplicates/Kodak CLAS Digital Film Scanner HR200 (2).jpg",
    ],
    "issue600": ["duplicates/Issue 600 (1).jpg", "duplicates/Issue 600 (2).jpg"],
    "elephants": [
        "labelled/african_elephants.jpg",
        "labelled/african_elephants_bw.jpg",
        "labelled/african_elephants_cmyk.jpg",
        "labelled/african_elephants_with_exif_orientation.jpg",
    ],
}
# Similar shots of one scene, each its own picture: a stereo pair, HDR off/on 26 s apart, two different cats.
DISTINCT = [
    "labelled/skimage_motorcycle_left.png",
    "labelled/skimage_motorcycle_right.png",
    "duplicates/canon_hdr_NO.jpg",
    "duplicates/canon_hdr_YES.jpg",
    "labelled/felix_101.jpg",
    "labelled/felix_104.jpg",
]


def copy(relative: str, folder: Path, name: str | None = None) -> Path:
    target = folder / (name or Path(relative).name)
    shutil.copy2(corpus() / relative, target)
    return target


@pytest.fixture
def engine(tmp_path: Path):
    engine = InProcessEngine(tmp_path)
    yield engine
    engine.close()


def test_near_duplicates_join_their_original_and_similar_shots_stay_apart(engine: InProcessEngine) -> None:
    truth: dict[Path, str] = {}
    for relative in ORIGINALS:
        original = copy(relative, engine.drop)
        truth[original] = relative
        for variant in make_variants(original, engine.drop / "variants").values():
            truth[variant] = relative
    for label, members in SAME_PICTURE.items():
        for relative in members:
            truth[copy(relative, engine.drop)] = label
    for relative in DISTINCT:
        truth[copy(relative, engine.drop)] = relative
    burst = burst_frame(corpus() / ORIGINALS[0], engine.drop / "burst_next_frame.jpg", seconds=1)
    truth[burst] = "burst"

    engine.add(sorted(truth))

    assert engine.failures() == []
    scores = pair_scores(truth, {path: engine.group_of(path) for path in truth})
    print("\ndedup on the corpus test set at the defaults:", json.dumps(scores))
    assert scores["missed"] == [], "near-duplicates not grouped with their original"
    assert scores["wrong"] == [], "distinct pictures grouped together"
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0
    why = engine.result(burst)["reason"]
    assert "taken 1 s apart" in why, why


def test_every_variant_kind_is_found_and_the_original_is_kept(engine: InProcessEngine) -> None:
    original = copy("photos/Nikon D5000.jpg", engine.drop)
    # (a PNG conversion has the same pixels and more bytes: by the keeper rules it would be kept; see README)
    lossy = [kind for kind in VARIANTS if kind != "png"]
    variants = make_variants(original, engine.drop, lossy)
    engine.add([original, *variants.values()])
    group = engine.group_of(original)
    assert group is not None
    for kind in lossy:
        result = engine.result(variants[kind])
        assert engine.group_of(variants[kind]) == group, kind
        assert result["keeper"] is False and result["duplicate_of"] == str(original), (kind, result)
        assert result["kind"] == "near" and result["skip_filing"] is False
    assert engine.result(variants["orientation_tag"])["reason"].count("rotated") == 1
    listing = dedup_groups.list_groups(engine.conn, "report")
    (only,) = listing
    assert only["keeper"] == str(original) and only["why"].startswith("largest")
    assert {member["path"] for member in only["members"]} == {str(original), *map(str, variants.values())}


def test_a_bigger_copy_arriving_later_becomes_the_keeper_and_the_change_is_recorded(engine: InProcessEngine) -> None:
    original = copy("photos/Apple iPhone 4.jpg", engine.drop, "big.jpg")
    small = make_variant(original, "resize50", engine.drop)
    exact = engine.drop / "small copy.jpg"
    shutil.copy2(small, exact)
    engine.add([small, exact])
    first = engine.result(exact)
    assert first["keeper"] is False and first["kind"] == "exact" and first["duplicate_of"] == str(small)
    assert first["skip_filing"] is True, "an exact copy of a kept file is never filed twice"
    engine.add([original])
    assert engine.result(original)["keeper"] is True
    (group,) = dedup_groups.list_groups(engine.conn, "report")
    assert group["keeper"] == str(original)
    assert group["keeper_changes"] and group["keeper_changes"][-1]["old_keeper"] == str(small)
    pending = {fact.path: now for fact, now, _ in dedup_groups.pending_decisions(engine.conn, "report")}
    assert pending[str(small)]["keeper"] is False and pending[str(small)]["duplicate_of"] == str(original)


def test_tiny_and_blank_images_are_only_grouped_when_byte_identical(engine: InProcessEngine) -> None:
    first = copy("photos/mspaint-10x10.gif", engine.drop)
    other = copy("metadata/exiftool_GIF.gif", engine.drop)  # also 8x8 white, other bytes
    twin = engine.drop / "mspaint copy.gif"
    shutil.copy2(first, twin)
    engine.add([first, other, twin])
    assert engine.group_of(first) == engine.group_of(twin) is not None
    assert engine.group_of(other) is None


def test_stored_embeddings_confirm_a_crop_the_hashes_alone_miss(tmp_path: Path) -> None:
    settings = DedupConfig(phash_distance=4, dhash_distance=4, embedding_phash_distance=14, embedding_similarity=0.97)
    engine = InProcessEngine(tmp_path, settings)
    try:
        original = copy("photos/Apple iPhone 4.jpg", engine.drop)
        crop = make_variant(original, "crop5", engine.drop)
        unrelated = copy("photos/Nikon D5000.jpg", engine.drop)
        engine.add([original, unrelated])
        rng = np.random.default_rng(5)
        base = rng.normal(size=64)
        base /= np.linalg.norm(base)
        near = base + 0.02 * rng.normal(size=64)  # cosine about 0.99: what a crop of the same photo gets
        with transaction(engine.conn):
            embeddings.put(engine.conn, engine.file_id(original), "test-model", base)
            embeddings.put(engine.conn, engine.file_id(unrelated), "test-model", near)
        engine.add([crop])  # no embedding for the crop yet: the hashes alone decide
        assert engine.group_of(crop) is None
        hashes = dedup_store.facts(engine.conn, [engine.file_id(original), engine.file_id(crop)])
        apart = hamming(*(fact.phash for fact in hashes.values()))
        assert 4 < apart <= 14, f"premise: the crop is {apart} pHash bits away, beyond the hashes' 4, within 14"
        with transaction(engine.conn):
            embeddings.put(engine.conn, engine.file_id(crop), "test-model", near / np.linalg.norm(near))
        engine.judge_again(crop)
        result = engine.result(crop)
        assert engine.group_of(crop) == engine.group_of(original) is not None, result
        link = result["matches"][0]["link"]
        assert 4 < link["phash"] <= 14 and link["similarity"] >= 0.97
        assert engine.group_of(unrelated) is None, "an embedding alone never links pictures whose hashes differ"
    finally:
        engine.close()


def test_not_duplicates_splits_a_group_and_holds_when_the_file_is_judged_again(engine: InProcessEngine) -> None:
    original = copy("photos/Sony DSC-HX5V (2).jpg", engine.drop)
    variants = make_variants(original, engine.drop, ["jpeg_q50", "resize50", "png"])
    engine.add([original, *variants.values()])
    group = engine.group_of(original)
    apart = variants["jpeg_q50"]
    dedup_groups.mark_distinct(engine.conn, [], [engine.file_id(apart)])
    assert engine.group_of(apart) is None
    assert engine.group_of(variants["resize50"]) == group == engine.group_of(variants["png"])
    engine.judge_again(apart)
    assert engine.group_of(apart) is None
    assert engine.result(apart)["keeper"] is True
    dedup_groups.mark_distinct(engine.conn, [group], [])
    assert all(engine.group_of(path) is None for path in [original, *variants.values()])
    assert dedup_groups.list_groups(engine.conn, "report") == []


def test_groups_merge_when_a_new_file_links_two_and_decisions_keep_files_apart() -> None:
    def fact(file_id: int, pixels: int) -> Facts:
        return Facts(id=file_id, path=f"/p/{file_id}.jpg", size=1000 + file_id, width=pixels, height=pixels)

    facts = {i: fact(i, 100 * i) for i in range(1, 6)}
    links = [Link(1, 2, "near", 2, 2), Link(3, 4, "near", 3, 3)]
    before = plan(facts, links, set(), ["pixels"])
    assert {g.id: g.members for g in before.groups.values()} == {1: [1, 2], 3: [3, 4]}
    bridged = plan(facts, [*links, Link(2, 5, "near", 1, 1), Link(4, 5, "near", 4, 4)], set(), ["pixels"])
    (group,) = bridged.groups.values()
    assert group.id == 1 and group.members == [1, 2, 3, 4, 5] and group.keeper == 5
    # 1 and 4 marked distinct: the weaker link that would join them is skipped, 3 and 4 stay a group of their own
    kept_apart = plan(facts, [*links, Link(2, 5, "near", 1, 1), Link(4, 5, "near", 4, 4)], {(1, 4)}, ["pixels"])
    assert sorted(g.members for g in kept_apart.groups.values()) == [[1, 2, 5], [3, 4]]


def test_bad_dedup_settings_name_the_key() -> None:
    raw = {
        "watch": [{"path": "/tmp/x"}],
        "dedup": {"phash_distance": 40, "keeper": ["pixels", "colour"], "folder": "../out", "embedding_similarity": 0},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, Path("my.toml"))
    text = str(caught.value)
    for expected in ("dedup.phash_distance", "dedup.keeper[1]", "dedup.folder", "dedup.embedding_similarity"):
        assert f"my.toml: {expected}" in text


def test_the_example_config_documents_the_dedup_defaults() -> None:
    from daemon.config import load_config
    from tests.support import REPO

    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    section = text.split("[dedup]", 1)[1].split("\n[", 1)[0]
    assert load_config(REPO / "config.example.toml").dedup == DedupConfig()
    for key in DedupConfig.__dataclass_fields__:
        assert f"\n{key} = " in section, f"[dedup] {key} is not documented in config.example.toml"


def test_a_decision_made_while_a_file_was_judged_sends_it_back_to_be_judged_again(engine: InProcessEngine) -> None:
    original = copy("photos/Sony DSC-HX5V (2).jpg", engine.drop)
    copy_of = make_variant(original, "jpeg_q50", engine.drop)
    engine.add([original, copy_of])
    assert dedup_groups.apply_decision(engine.conn, engine.file_id(copy_of), {}, "dedup") == "requeued"
    worker = next(w for w in engine.workers if "dedup" in w.stage_names)
    (job,) = queue.claim(engine.conn, "test", ["dedup"], 1, 60)
    item = worker.make_item(job)
    result = engine.pipeline.stage("dedup").run(item)  # judged: a duplicate of the original
    assert result["keeper"] is False
    dedup_groups.mark_distinct(engine.conn, [], [engine.file_id(original), engine.file_id(copy_of)])
    with pytest.raises(StaleDecision):
        queue.complete(engine.conn, job, result, 1.0, None, 60, record=engine.pipeline.stage("dedup").record)
    queue.release(engine.conn, job)
    engine.run()
    assert engine.result(copy_of)["keeper"] is True and engine.group_of(copy_of) is None


def test_a_deleted_keeper_hands_over_to_the_best_remaining_copy(engine: InProcessEngine) -> None:
    original = copy("photos/Nikon D5000.jpg", engine.drop)
    variants = make_variants(original, engine.drop, ["resize50", "resize25"])
    engine.add([original, *variants.values()])
    original.unlink()
    files.mark_missing(engine.conn, [str(original)])
    assert dedup_groups.drop_missing(engine.conn) == 1
    (group,) = dedup_groups.list_groups(engine.conn, "report")
    assert group["keeper"] == str(variants["resize50"]) and len(group["members"]) == 2


def test_a_second_identical_copy_of_a_near_duplicate_is_not_filed_twice() -> None:
    from daemon.dedup.grouping import Group, decide

    keeper = Facts(1, "/library/elephants.jpg", 37_000, sha256="k")
    grey = Facts(2, "/library/elephants_bw.jpg", 29_000, sha256="g")  # filed: a near duplicate, action report
    again = Facts(3, "/drop/elephants_bw.jpg", 29_000, sha256="g")  # the same grey file dropped once more
    facts = {fact.id: fact for fact in (keeper, grey, again)}
    group = Group(7, [1, 2, 3], 1, "largest file")
    links = [Link(1, 2, "near", 2, 0), Link(1, 3, "near", 2, 0), Link(2, 3, "exact")]
    assert not decide(grey, group, facts, links, "report")["skip_filing"]
    result = decide(again, group, facts, links, "report")
    assert result["skip_filing"] and "identical to /library/elephants_bw.jpg" in result["reason"], result
    assert decide(again, group, facts, links, "move")["move_to_duplicates"]


def test_identical_copies_judged_out_of_order_file_exactly_one(tmp_path: Path) -> None:
    """The first copy is held up (a worker stuck on it, an engine killed while probing it) and its identical twin,
    dropped later, goes all the way through first: one of the two is filed, the other names it as the original."""
    engine = InProcessEngine(tmp_path, filing=True)
    try:
        first = copy("photos/Nikon D5000.jpg", engine.drop, "first.jpg")
        second = copy("photos/Nikon D5000.jpg", engine.drop, "second.jpg")
        engine.queue([first])
        (held,) = queue.claim(engine.conn, "a stuck worker", ["probe"], 1, 600)
        engine.queue([second])
        ids = [engine.file_id(first), engine.file_id(second)]
        engine.run()  # the second copy is judged and filed while the first waits
        queue.release(engine.conn, held)
        engine.run()
        assert engine.failures() == []
        renames = {file_id: engine.stage_result(file_id, "rename") for file_id in ids}
        filed = [file_id for file_id, result in renames.items() if result["moved"]]
        assert len(filed) == 1, renames
        (other,) = set(ids) - set(filed)
        library_path = engine.conn.execute("SELECT path FROM files WHERE id = ?", (filed[0],)).fetchone()[0]
        assert renames[other]["reason"].startswith("not filed: exact duplicate of "), renames[other]
        assert engine.stage_result(other, "dedup")["duplicate_of"] in (library_path, renames[filed[0]]["from"])
        assert engine.stage_result(filed[0], "dedup")["keeper"] is True
    finally:
        engine.close()


def test_identical_copies_keep_one_keeper_when_our_own_write_grew_one_of_them() -> None:
    """Judged in turn, two identical copies never name each other as the original: the copy judged first was a
    duplicate, and our metadata write then grew it (files.size follows; the SHA-256 of the judged bytes does not)."""
    first = Facts(1, "/drop/first.jpg", 262_305, width=858, height=570, sha256="same")
    second = Facts(2, "/drop/second.jpg", 262_305, width=858, height=570, sha256="same")
    links = [Link(1, 2, "exact")]
    judged_first = plan({1: first, 2: second}, links, set(), ["pixels", "size", "taken", "metadata"])
    assert judged_first.groups[1].keeper == 1  # the second copy, judged first, is a duplicate of the first
    grown = Facts(2, "/drop/second.jpg", 263_900, width=858, height=570, sha256="same")
    judged_last = plan({1: first, 2: grown}, links, set(), ["pixels", "size", "taken", "metadata"])
    assert judged_last.groups[1].keeper == 1, judged_last.groups[1]
    # The other way round: the copy judged alone first was kept (and filed); its twin judged later yields to it.
    kept = Facts(2, "/library/second.jpg", 262_305, width=858, height=570, sha256="same", kept=True)
    later = plan({1: first, 2: kept}, links, set(), ["pixels", "size", "taken", "metadata"])
    assert later.groups[1].keeper == 2 and "kept before" in later.groups[1].keeper_reason


def test_crops_and_screenshots_join_their_photo_by_embedding_and_pixels(tmp_path: Path) -> None:
    """Crops of 20-35% and a screenshot move the pHash too far for the index: the default tagger's stored
    embeddings name the candidates and the pixels confirm them; similar shots of one scene stay apart."""
    engine = InProcessEngine(tmp_path, tagging=True)
    try:
        original = copy("photos/Nikon D5000.jpg", engine.drop)
        other = copy("photos/Apple iPhone 4.jpg", engine.drop)
        copies = [
            crop_copy(original, engine.drop / "crop20.jpg", 0.2),
            crop_copy(original, engine.drop / "crop35side.jpg", 0.35, side=True),
            screenshot_of(original, engine.drop / "screenshot.png"),
            crop_copy(other, engine.drop / "iphone_crop30.jpg", 0.3),
        ]
        distinct = [copy(relative, engine.drop) for relative in DISTINCT[:4]]
        engine.add([original, other, *distinct, *copies])
        assert engine.failures() == []
        hashes = dedup_store.facts(engine.conn, [engine.file_id(p) for p in (original, copies[1], copies[2])])
        mine, side_crop, screenshot = (fact.phash for fact in hashes.values())
        assert min(hamming(mine, side_crop), hamming(mine, screenshot)) > 14, "premise: beyond the index's radius"
        group = engine.group_of(original)
        assert group is not None
        for path in copies[:3]:
            result = engine.result(path)
            assert engine.group_of(path) == group, result
        assert engine.group_of(copies[3]) == engine.group_of(other) is not None
        assert engine.group_of(other) != group
        assert "a crop or screenshot" in engine.result(copies[1])["reason"]
        assert all(engine.group_of(path) is None for path in distinct), [engine.result(p)["reason"] for p in distinct]
    finally:
        engine.close()


def test_orientation_set_and_copies_that_lost_their_tag_form_one_group(engine: InProcessEngine) -> None:
    """corpus/orientation: one photo stored in all 8 orientations with the tag that shows it upright, plus copies
    of the stored pixels saved without the tag (what converters and messengers produce): shown turned or mirrored."""
    from PIL import Image

    tagged = [copy(f"orientation/Landscape_{n}.jpg", engine.drop) for n in range(9)]
    untagged = []
    for n in (2, 5, 6, 7, 8):  # mirrored, turned, and both, once the tag is gone
        with Image.open(corpus() / f"orientation/Landscape_{n}.jpg") as image:
            target = engine.drop / f"Landscape_{n}_tag_dropped.jpg"
            image.convert("RGB").save(target, quality=92)  # no EXIF: the stored pixels as they are
            untagged.append(target)
    engine.add([*tagged, *untagged])
    assert engine.failures() == []
    groups = {path.name: engine.group_of(path) for path in [*tagged, *untagged]}
    assert len(set(groups.values())) == 1 and None not in groups.values(), groups
    reasons = " ".join(engine.result(path)["reason"] for path in untagged)
    assert "rotated 90°" in reasons or "rotated 270°" in reasons, reasons
    assert "mirrored" in reasons, reasons


def test_many_identical_copies_join_one_group_as_a_full_replan_would(engine: InProcessEngine) -> None:
    """Copies joining a big group are recorded from a few rows (not the whole group planned again for each): the
    stored groups must be what planning them from scratch gives, with no decision left pending."""
    original = copy("photos/Nikon D5000.jpg", engine.drop)
    smaller = make_variant(original, "resize50", engine.drop)
    copies = []
    for index in range(24):
        target = engine.drop / f"copy {index:02d}.jpg"
        shutil.copy2(original, target)
        copies.append(target)
    engine.add([smaller, original, *copies])
    assert engine.failures() == []
    (group,) = dedup_groups.list_groups(engine.conn, "report")
    assert group["keeper"] == str(original) and len(group["members"]) == 26
    assert dedup_groups.pending_decisions(engine.conn, "report") == []
    ids = [engine.file_id(path) for path in (smaller, original, *copies)]
    replanned, _, _ = dedup_store.replan(engine.conn, set(ids), dedup_store.keeper_rules(engine.conn))
    (fresh,) = replanned.groups.values()
    stored = engine.conn.execute("SELECT id, keeper, keeper_reason FROM dedup_groups").fetchone()
    assert (fresh.id, fresh.keeper, fresh.keeper_reason) == tuple(stored)
    assert sorted(fresh.members) == sorted(ids)
    for path in copies:
        result = engine.result(path)
        assert result["duplicate_of"] == str(original) and result["kind"] == "exact" and result["skip_filing"]
