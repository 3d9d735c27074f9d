"""Keyword rules from the Keywords page on a real SQLite store: a renamed, merged, synonym or excluded keyword is
turned into the user's word by every later tagging (the tag recorder), on photos tagged before the rule and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.store import Store, corrections, keyword_rules
from daemon.store.connection import transaction
from daemon.store.queue import Job
from daemon.store.tagging import record_tag, tags_of


def photo(store: Store, number: int) -> Job:
    with store.conn:
        store.conn.execute(
            "INSERT INTO files (id, path, root, size, mtime_ns, inode, sha256, first_seen, last_seen)"
            " VALUES (?, ?, '/photos', 1, 1, ?, ?, 0, 0)",
            (number, f"/photos/{number}.jpg", number, f"{number:064x}"),
        )
    return Job(number, number, f"/photos/{number}.jpg", "/photos", "fp", "tag", 0, 1, "test")


def tag(store: Store, job: Job, *words: str) -> dict[str, str]:
    data = {"backend": "onnx", "model": "m", "keywords": [{"keyword": w, "score": 0.9} for w in words]}
    with transaction(store.conn):
        record_tag(store.conn, job, data)
    return {k["keyword"].casefold(): k["source"] for k in tags_of(store.conn, job.file_id)["keywords"]}


def test_rules_turn_later_tagging_into_the_users_words(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        first, later = photo(store, 1), photo(store, 2)
        assert tag(store, first, "puppy", "lakeside", "seashore") == {
            "puppy": "auto",
            "lakeside": "auto",
            "seashore": "auto",
        }
        keyword_rules.add(store.conn, "puppy", "map", "dog")  # a synonym: puppy means dog
        keyword_rules.add(store.conn, "lakeside", "map", "Lake")  # a rename
        keyword_rules.add(store.conn, "seashore", "exclude")
        for job in (first, later):  # tagged again, and a photo first tagged after the rules
            words = tag(store, job, "puppy", "lakeside", "seashore", "grass")
            assert words == {"dog": "user", "lake": "user", "grass": "auto"}, words
            said = corrections.of_file(store.conn, job.file_id)
            assert {"puppy", "lakeside", "seashore"} <= {w.casefold() for w in said["rejected"]}
            assert {"dog", "Lake"} <= set(said["added"])

        keyword_rules.add(store.conn, "Lake", "map", "lakes")  # renaming a rule's target moves the rule along
        assert {r["keyword"]: r["target"] for r in keyword_rules.listing(store.conn)}["lakeside"] == "lakes"
        with pytest.raises(ValueError, match="another keyword"):
            keyword_rules.add(store.conn, "dog", "map", "Dog")
    finally:
        store.close()
