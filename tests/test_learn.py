"""Taught keywords: a keyword learned from a few example photos, through the real engine with the EfficientNet tagger.

Teach from examples -> the examples and unseen photos of the same kind carry it (exiftool reads it back), other photos
do not; too few examples are refused; restart, export, untaught (a hand-added copy stays) and import.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from daemon.learn.classifier import choose_threshold, scores, train
from daemon.metadata.plan import Options, make_plan
from daemon.metadata.tag_names import ENGINE_KEYWORDS, SUBJECT
from daemon.metadata.wanted import Wanted
from tests.support import Engine, copy_in, corpus, exiftool_json, wait_for

TAUGHT = "Panthera"
EXAMPLES = ["felix_301.jpg", "felix_303.png", "felix_304.jpg", "felix_306.jpg", "felix_311.jpg", "felix_312.jpg"]
HAND_TAGGED = "felix_304.jpg"  # the user wrote the keyword into this one before the engine saw it
LIBRARY_OTHERS = [
    "african_elephants.jpg",
    "skimage_coffee.png",
    "domestic_dog.jpg",
    "vehicle.jpg",
    "Nikon_COOLPIX_P1.jpg",
    "skimage_motorcycle_left.png",
    "american_black_bear.jpg",
    "Olympus_C8080WZ.jpg",
    "felix_101.jpg",  # domestic cats: close, but not the taught kind
    "felix_104.jpg",
    "felix_106.jpg",
]
NEW_KIND = ["felix_318.jpg", "felix_321.jpg"]  # unseen big cats
NEW_OTHERS = ["felix_109.jpg", "felix_110.jpg", "skimage_rocket.jpg"]
AFTER_RESTART = "felix_607.jpg"


def subjects(path: Path) -> list[str]:
    found = exiftool_json(path, args=("-XMP-dc:Subject",))[0].get("Subject", [])
    return found if isinstance(found, list) else [found]


def learned_rows(engine: Engine) -> dict[str, tuple[float, str]]:
    rows = engine.query(
        "SELECT files.path, keywords.score, keywords.model FROM keywords JOIN files ON files.id = keywords.file_id"
        " WHERE keywords.source = 'learned' AND keywords.keyword = ?",
        (TAUGHT,),
    )
    return {Path(row["path"]).name: (row["score"], row["model"]) for row in rows}


def settled(engine: Engine, expected: int) -> None:
    """Jobs finished and the learner idle (it re-queues photos for the metadata stage while it applies)."""

    def quiet() -> bool:
        answer = engine.cli("status", "--json")
        if answer.returncode != 0:  # a loaded 2-core machine importing torch may answer late: ask again
            return False
        status = json.loads(answer.stdout)
        jobs = status["jobs"]
        idle = status["learning"].get("state") == "idle" and not status["learning"].get("waiting")
        return idle and jobs["queued"] + jobs["running"] == 0 and jobs["done"] + jobs["failed"] >= expected

    wait_for(quiet, 600, 0.5, "jobs and learner idle")


def drop(engine: Engine, names: list[str], staging: Path) -> None:
    """Writable copies (the corpus is read-only, which would send keywords to sidecars) moved into the drop folder."""
    engine.drop.mkdir(parents=True, exist_ok=True)
    for path in copy_in([corpus() / "labelled" / name for name in names], staging):
        path.chmod(0o644)
        if path.name == HAND_TAGGED:
            subprocess.run(
                ["exiftool", "-q", "-overwrite_original", f"-XMP-dc:Subject={TAUGHT}", str(path)], check=True
            )
        shutil.move(path, engine.drop / path.name)


def carrying(engine: Engine, names: list[str]) -> set[str]:
    return {name for name in names if TAUGHT in subjects(engine.drop / name)}


def test_teaching_from_examples_tags_unseen_photos_of_that_kind_and_untaught_removes_only_learned_copies(
    engine_factory, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    engine: Engine = engine_factory("[tagging]\nenabled = true\n[dedup]\nenabled = false\n")
    drop(engine, EXAMPLES + LIBRARY_OTHERS, staging)
    library = len(EXAMPLES + LIBRARY_OTHERS)
    settled(engine, library)

    taught = engine.cli("teach", TAUGHT, *(str(engine.drop / name) for name in EXAMPLES), timeout=200)
    assert taught.returncode == 0, taught.stderr
    assert taught.stdout.strip() == (
        f"{TAUGHT}: 6 examples, estimated precision 1.00, would tag 6 photos; add a few more examples to improve"
    )
    settled(engine, library)
    assert carrying(engine, EXAMPLES + LIBRARY_OTHERS) == set(EXAMPLES)
    rows = learned_rows(engine)
    assert set(rows) == set(EXAMPLES) and all(model == "learned v1" and score > 0.5 for score, model in rows.values())

    too_few = engine.cli("teach", "Lynx", str(engine.drop / "felix_101.jpg"), timeout=200)
    assert too_few.returncode == 0, too_few.stderr
    assert "Lynx: 1 example; teach at least 3" in too_few.stdout and "before it tags anything" in too_few.stdout
    assert not engine.query("SELECT 1 FROM keywords WHERE keyword = 'Lynx'")

    drop(engine, NEW_KIND + NEW_OTHERS, staging)
    library += len(NEW_KIND + NEW_OTHERS)
    settled(engine, library)
    assert carrying(engine, NEW_KIND + NEW_OTHERS) == set(NEW_KIND)
    assert set(learned_rows(engine)) == set(EXAMPLES + NEW_KIND)

    listing = engine.cli("taught")
    line = next(line for line in listing.stdout.splitlines() if line.startswith(TAUGHT))
    assert "ready" in line and "examples   6" in line and "precision 1.00" in line and "tagged 8" in line

    engine.stop()
    engine.start()
    drop(engine, [AFTER_RESTART], staging)
    library += 1
    settled(engine, library)
    assert TAUGHT in subjects(engine.drop / AFTER_RESTART)  # the classifier came back from the store
    everywhere = EXAMPLES + NEW_KIND + [AFTER_RESTART]

    exported = tmp_path / "taught.json"
    assert engine.cli("teach", "--export", str(exported)).returncode == 0
    saved = json.loads(exported.read_text())
    assert [k["keyword"] for k in saved["keywords"]] == ["Lynx", TAUGHT] and exported.stat().st_size < 64_000

    gone = engine.cli("untaught", TAUGHT, timeout=200)
    assert gone.returncode == 0 and f"removed from {len(everywhere)} photo(s)" in gone.stdout, gone.stdout
    settled(engine, library)
    assert carrying(engine, everywhere + LIBRARY_OTHERS + NEW_OTHERS) == {HAND_TAGGED}  # the user's own copy stays
    assert not learned_rows(engine) and TAUGHT not in engine.cli("taught").stdout

    restored = engine.cli("teach", "--import", str(exported), timeout=200)
    assert restored.returncode == 0 and f"{TAUGHT}: imported (6 example(s) found here, 0 not)" in restored.stdout
    settled(engine, library)
    assert carrying(engine, everywhere + LIBRARY_OTHERS + NEW_OTHERS) == set(everywhere)
    assert set(learned_rows(engine)) == set(everywhere)

    rejected = NEW_KIND[0]  # "not this one": a counter-example; the keyword retrains and leaves that photo
    said_no = engine.cli("teach", TAUGHT, "--not", str(engine.drop / rejected), timeout=200)
    assert said_no.returncode == 0 and said_no.stdout.startswith(f"{TAUGHT}: 6 examples"), said_no.stdout
    settled(engine, library)
    assert TAUGHT not in subjects(engine.drop / rejected) and rejected not in learned_rows(engine)
    assert {model for _, model in learned_rows(engine).values()} == {"learned v2"}


def test_classifier_refuses_too_few_examples_and_examples_that_do_not_stand_apart() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(60, 32)).astype(np.float32)
    assert train(noise[:2], noise[2:]).state == "too_few"
    assert train(noise[:8], noise[8:]).state == "inconsistent"  # random vectors: nothing to learn
    apart = noise.copy()
    apart[:8, 0] += 6.0
    trained = train(apart[:8], apart[8:])
    assert trained.state == "ready" and trained.precision >= 0.9 and trained.recall >= 0.8


def test_threshold_is_the_lowest_that_keeps_precision_and_weights_the_library_behind_the_sample() -> None:
    positives = np.array([5.0, 4.0, 3.0, 1.0])
    negatives = np.array([3.5, 0.5, 0.0, -1.0])
    threshold, precision, recall, _ = choose_threshold(positives, negatives, 1.0, 0.75)
    assert recall == 1.0 and precision == 0.8 and 0.5 < threshold <= 1.0
    # the same sample standing for a library 10 times its size: one false positive weighs ten
    threshold, precision, recall, _ = choose_threshold(positives, negatives, 10.0, 0.75)
    assert threshold > 3.5 and recall == 0.5 and precision == 1.0


def test_withdrawn_keyword_leaves_the_file_only_where_the_engine_wrote_it() -> None:
    engine_wrote = {SUBJECT: ["Panthera", "holiday"], ENGINE_KEYWORDS: ["Panthera=0.910"]}
    plan = make_plan(engine_wrote, Wanted(tagged=True, withdrawn=["Panthera"]), Options(mode="merge"))
    assert plan.writes[SUBJECT] == ["holiday"] and "Panthera" not in plan.engine_keywords
    user_wrote = {SUBJECT: ["Panthera", "holiday"]}
    plan = make_plan(user_wrote, Wanted(tagged=True, withdrawn=["Panthera"]), Options(mode="merge"))
    assert SUBJECT not in plan.writes


# The review app's corrections table (branch webapp, migration 0009_corrections.sql), as the learner reads it.
CORRECTIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS corrections (id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files (id)"
    " ON DELETE CASCADE, kind TEXT NOT NULL, value TEXT NOT NULL, by TEXT NOT NULL, at REAL NOT NULL)"
)


def test_a_learned_keyword_rejected_in_the_review_app_is_removed_there_and_the_keyword_retrains(tmp_path: Path) -> None:
    import threading
    import time

    from daemon.learn.service import Learner
    from daemon.store import Store, embeddings, learned
    from daemon.store.connection import transaction

    store = Store(tmp_path / "engine.db")
    conn = store.conn
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 64)).astype(np.float32)
    vectors[:10, 0] += 8.0  # ten photos of the taught kind (nine taught as examples), thirty others
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with transaction(conn):
        conn.execute(CORRECTIONS_DDL)
        for index, vector in enumerate(vectors):
            file_id = conn.execute(
                "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen)"
                " VALUES (?, '/', 1, 1, ?, 0, 0) RETURNING id",
                (f"/photos/{index}.jpg", index),
            ).fetchone()[0]
            embeddings.put(conn, file_id, "m", vector)
            conn.execute(
                "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, 'tag', 0, ?, 0, 0)",
                (file_id, json.dumps({"model": "m", "keywords": []})),
            )
    stop = threading.Event()
    learner = Learner(store, stop, lambda: False, lambda: None, None)
    learner.start()
    try:
        learned.add_examples(conn, TAUGHT, range(1, 10), 1)
        learner.submit(TAUGHT).trained.wait(60)
        wait_for(lambda: learner.status()["state"] == "idle" and len(learned.learned_files(conn, TAUGHT)) == 9, 60)
        assert learned.classifier(conn, TAUGHT)["version"] == 1

        with transaction(conn):
            conn.execute(
                "INSERT INTO corrections (file_id, kind, value, by, at) VALUES (3, 'reject_keyword', ?, 'me', ?)",
                (TAUGHT.lower(), time.time()),
            )
        wait_for(lambda: (learned.classifier(conn, TAUGHT) or {}).get("version") == 2, 60, message="retrained")
        wait_for(lambda: learner.status()["state"] == "idle", 60)
        still = set(learned.learned_files(conn, TAUGHT))
        assert 3 not in still and still and still <= set(range(1, 10))  # the later word wins; a look-alike said no
        # makes it more careful, it does not tag anything new
        assert learned.examples(conn, TAUGHT)[3] == 0
        result = json.loads(conn.execute("SELECT data FROM results WHERE file_id = 3").fetchone()[0])
        assert result["withdrawn"] == [TAUGHT] and not result["keywords"]  # the metadata stage takes it out of the file
        from daemon.learn.apply import LearnedKeywords

        tag_stage_view = LearnedKeywords(lambda: conn)  # photo 3 changed and tagged again: the user's "no" holds
        kept = min(still)
        assert tag_stage_view.keywords("m", vectors[kept - 1], kept)[0]["model"] == "learned v2"
        assert tag_stage_view.keywords("m", vectors[kept - 1], 3) == []
    finally:
        stop.set()
        learner.join(30)
        store.close()


def test_examples_taught_before_they_were_tagged_are_learned_once_they_are(tmp_path: Path) -> None:
    import threading

    from daemon.learn.service import Learner
    from daemon.store import Store, embeddings, learned
    from daemon.store.connection import transaction

    store = Store(tmp_path / "engine.db")
    conn = store.conn
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(30, 64)).astype(np.float32)
    vectors[:6, 0] += 8.0
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with transaction(conn):
        for index in range(30):
            file_id = conn.execute(
                "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen)"
                " VALUES (?, '/', 1, 1, ?, 0, 0) RETURNING id",
                (f"/photos/{index}.jpg", index),
            ).fetchone()[0]
            if index >= 6:  # the six examples are not tagged yet
                embeddings.put(conn, file_id, "m", vectors[index])
    stop = threading.Event()
    learner = Learner(store, stop, lambda: False, lambda: None, None)
    learner.start()
    try:
        learned.add_examples(conn, TAUGHT, range(1, 7), 1)
        request = learner.submit(TAUGHT)
        assert request.trained.wait(60) and request.outcome["state"] == "no_embeddings"
        assert "none tagged yet" in request.outcome["message"]
        with transaction(conn):
            for index in range(6):
                embeddings.put(conn, index + 1, "m", vectors[index])
        wait_for(lambda: (learned.classifier(conn, TAUGHT) or {}).get("state") == "ready", 60, message="trained")
        assert learned.classifier(conn, TAUGHT)["positives"] == 6
    finally:
        stop.set()
        learner.join(30)
        store.close()


def test_refusal_names_the_other_photos_that_look_like_the_examples() -> None:
    from daemon.learn.classifier import lookalikes
    from daemon.learn.service import describe

    rng = np.random.default_rng(5)
    kind = rng.normal(size=64).astype(np.float32) * 3
    positives = kind + rng.normal(size=(5, 64)).astype(np.float32)
    untaught_same_kind = kind + rng.normal(size=(20, 64)).astype(np.float32)
    others = rng.normal(size=(40, 64)).astype(np.float32)
    mask = lookalikes(positives, np.concatenate([untaught_same_kind, others]))
    assert mask[:20].sum() >= 5 and not mask[20:].any()  # a good part of the kind, and none of the others
    from daemon.learn.classifier import Trained

    refused = Trained("inconsistent", 5, 60, best_precision=0.5)  # the untaught photos of the kind counted against it
    said = describe(TAUGHT, refused, 0, int(mask.sum()))
    assert said.startswith(f"{TAUGHT}: 5 examples, but they do not set {TAUGHT} apart from other photos")
    assert f"{int(mask.sum())} other photo(s) look as much like them as they do each other" in said


def test_untaught_photos_of_the_same_subject_in_the_sample_no_longer_make_it_refuse() -> None:
    from daemon.learn.classifier import lookalikes, sample_negatives

    rng = np.random.default_rng(0)
    subject = rng.normal(size=64) * 2.5 + rng.normal(size=(30, 64))  # one subject: 6 photos taught, 24 not
    vectors = np.concatenate([subject, rng.normal(size=(100, 64))]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    examples, library = vectors[:6], vectors[6:]
    assert train(examples, library).state == "inconsistent"  # the 24 counted as not-the-subject
    negatives = sample_negatives(examples, library)
    closest = lookalikes(examples, library, closest=True)
    assert len(library) - len(negatives) == closest[:24].sum() > 0 and not closest[24:].any()  # only the subject's
    trained = train(examples, negatives)
    assert trained.state == "ready" and trained.precision >= 0.9
    others = vectors[30:]
    assert (scores(others, trained.weights, trained.intercept) >= trained.threshold).sum() == 0
