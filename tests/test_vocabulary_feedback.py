"""Learning from corrections of the model's own keywords: a keyword rejected often gets a higher threshold or is no
longer proposed, on new photos (the tag stage) and on the library photos the user has not judged.

Real store and learner thread; the corrections go through the review app's own function (corrections.correct_keyword).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.control.learn import learn_routes
from daemon.learn.apply import LearnedKeywords
from daemon.learn.service import Learner
from daemon.learn.transfer import export, import_
from daemon.store import Store, corrections, feedback
from daemon.store.connection import transaction
from tests.support import wait_for

TIGER_SCORES = [0.30, 0.33, 0.36, 0.40, 0.45, 0.50, 0.70, 0.80, 0.85, 0.90]  # photos 1..10
LION_SCORES = [0.60, 0.70, 0.80, 0.90, 0.95]  # photos 1..5


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Store, Learner]]:
    """Ten tagged photos: 'tiger' on each at TIGER_SCORES, 'lion' on the first five, 'cat' on all (never judged)."""
    store = Store(tmp_path / "engine.db")
    conn = store.conn
    with transaction(conn):
        for index, tiger in enumerate(TIGER_SCORES):
            file_id = conn.execute(
                "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen)"
                " VALUES (?, '/', 1, 1, ?, 0, 0) RETURNING id",
                (f"/photos/{index + 1}.jpg", index),
            ).fetchone()[0]
            proposed = {"tiger": tiger, "cat": 0.9}
            if index < len(LION_SCORES):
                proposed["lion"] = LION_SCORES[index]
            keywords = [{"keyword": k, "score": s, "hierarchy": None, "source": "auto"} for k, s in proposed.items()]
            keywords.append({"keyword": "dark", "score": None, "hierarchy": None, "source": "auto"})  # a fact
            conn.execute(
                "INSERT INTO results (file_id, stage, job_id, data, ms, recorded_at) VALUES (?, 'tag', 0, ?, 0, 0)",
                (file_id, json.dumps({"model": "m", "keywords": keywords})),
            )
            conn.executemany(
                "INSERT INTO keywords (file_id, keyword, score, source, model) VALUES (?, ?, ?, 'auto', 'm')",
                [(file_id, k["keyword"], k["score"]) for k in keywords],
            )
    stop = threading.Event()
    learner = Learner(store, stop, lambda: False, lambda: None, None)
    learner.start()
    try:
        yield store, learner
    finally:
        stop.set()
        learner.join(30)
        store.close()


def on_photos(store: Store, keyword: str) -> set[int]:
    rows = store.conn.execute("SELECT file_id FROM keywords WHERE keyword = ? AND source = 'auto'", (keyword,))
    return {int(row[0]) for row in rows}


def proposal(keyword: str, score: float | None) -> dict:
    return {"keyword": keyword, "score": score, "hierarchy": None, "source": "auto"}


def test_a_keyword_rejected_at_low_scores_gets_a_higher_threshold_on_new_photos_and_unjudged_library_photos(
    library: tuple[Store, Learner],
) -> None:
    store, learner = library
    conn = store.conn
    for file_id in (1, 2, 3):  # the user rejects the weak guesses and keeps two strong ones
        corrections.correct_keyword(conn, file_id, "tiger", "reject")
    for file_id in (8, 9):
        corrections.correct_keyword(conn, file_id, "Tiger", "add")  # the review app's Accept button
    wait_for(lambda: (feedback.adjustment(conn, "tiger") or {}).get("state") == "raised", 30, message="raised")
    wait_for(lambda: learner.status()["state"] == "idle" and not learner.status()["waiting"], 30)

    adjusted = feedback.adjustment(conn, "tiger")
    assert 0.36 < adjusted["threshold"] < 0.80 and "you rejected 3 of its proposals" in adjusted["reason"]
    stays = {f for f, s in enumerate(TIGER_SCORES, start=1) if s >= adjusted["threshold"]}
    assert on_photos(store, "tiger") == stays | {8, 9} and {4, 5} - stays == {4, 5} - on_photos(store, "tiger")
    result = json.loads(conn.execute("SELECT data FROM results WHERE file_id = 4").fetchone()[0])
    assert result["withdrawn"] == ["tiger"] and "tiger" not in [k["keyword"] for k in result["keywords"]]
    assert on_photos(store, "cat") == set(range(1, 11))  # other keywords untouched

    tag_stage = LearnedKeywords(lambda: conn)
    new_photo = [proposal("tiger", 0.45), proposal("cat", 0.5), proposal("dark", None)]
    assert [k["keyword"] for k in tag_stage.model_keywords(new_photo)] == ["cat", "dark"]
    assert [k["keyword"] for k in tag_stage.model_keywords([proposal("tiger", 0.95)])] == ["tiger"]

    (tiger,) = [s for s in feedback.statistics(conn) if s["keyword"].casefold() == "tiger"]
    assert (tiger["accepted"], tiger["rejected"]) == (2, 3) and tiger["adjustment"]["state"] == "raised"
    assert tiger["untouched"] == len(on_photos(store, "tiger") - {8, 9})


def test_a_keyword_rejected_at_every_score_is_no_longer_proposed_until_the_user_says_keep(
    library: tuple[Store, Learner],
) -> None:
    store, learner = library
    conn = store.conn
    for file_id in (2, 4, 5):  # rejected at 0.70, 0.90 and 0.95: no threshold keeps what is left
        corrections.correct_keyword(conn, file_id, "lion", "reject")
    wait_for(lambda: (feedback.adjustment(conn, "lion") or {}).get("state") == "muted", 30, message="muted")
    wait_for(lambda: learner.status()["state"] == "idle" and not learner.status()["waiting"], 30)
    assert on_photos(store, "lion") == set()
    assert (
        "not proposed any more: you rejected it 3 times and kept it 0 times"
        in feedback.adjustment(conn, "lion")["reason"]
    )
    tag_stage = LearnedKeywords(lambda: conn)
    assert tag_stage.model_keywords([proposal("lion", 0.99)]) == []

    routes = learn_routes(store, learner)
    listing = routes[("GET", "/vocabulary")]({}, {})[1]["keywords"]
    assert [(s["keyword"], s["rejected"], s["adjustment"]["state"]) for s in listing] == [("lion", 3, "muted")]
    assert routes[("POST", "/vocabulary/keep")]({}, {"keyword": "lion"})[1]["state"] == "kept"
    assert tag_stage.model_keywords([proposal("lion", 0.99)]) == [proposal("lion", 0.99)]
    learner.submit("lion", "vocabulary").trained.wait(30)  # "keep" is the user's word: the learner leaves it
    assert feedback.adjustment(conn, "lion")["state"] == "kept"
    assert routes[("POST", "/vocabulary/adjust")]({}, {"keyword": "lion"})[1]["state"] == "muted"
    assert tag_stage.model_keywords([proposal("lion", 0.99)]) == []


def test_two_rejections_change_nothing_and_the_adjustments_travel_in_the_export(
    library: tuple[Store, Learner], tmp_path: Path
) -> None:
    store, learner = library
    conn = store.conn
    for file_id in (1, 2):
        corrections.correct_keyword(conn, file_id, "tiger", "reject")
    for file_id in (2, 4, 5):
        corrections.correct_keyword(conn, file_id, "lion", "reject")
    wait_for(lambda: (feedback.adjustment(conn, "lion") or {}).get("state") == "muted", 30, message="muted")
    wait_for(lambda: len(feedback.verdicts(conn, "tiger")) == 2, 30, message="tiger judged")
    assert feedback.adjustment(conn, "tiger") is None and len(on_photos(store, "tiger")) == 8

    saved = export(conn)
    assert [(row["keyword"], row["state"]) for row in saved["vocabulary"]] == [("lion", "muted")]
    elsewhere = Store(tmp_path / "other.db")
    try:
        import_(elsewhere.conn, json.loads(json.dumps(saved)))
        assert feedback.adjustment(elsewhere.conn, "lion")["state"] == "muted"
        assert LearnedKeywords(lambda: elsewhere.conn).model_keywords([proposal("lion", 0.99)]) == []
    finally:
        elsewhere.close()
