"""One search: the FTS5 index kept in step by the store, and `image-engine search` through the real engine.

Cats tagged by the default EfficientNet tagger are found by "cat"; keyword + date range filters; deletes and moves.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from daemon.search.merge import fuse
from daemon.search.query import Filters, match_expression
from daemon.store import Store, transaction
from daemon.store import search as search_store
from tests.support import Engine, corpus, wait_for

CATS_2020 = ["felix_101.jpg", "felix_104.jpg"]
CATS_2022 = ["felix_106.jpg", "felix_118.jpg"]
OTHERS = ["african_elephants.jpg", "skimage_coffee.png"]


def _add_file(conn, file_id: int, path: str, keyword: str | None = None, taken: str | None = None) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO files (id, path, root, size, mtime_ns, inode, first_seen, last_seen)"
            " VALUES (?, ?, '/lib', 1, 1, ?, 0, 0)",
            (file_id, path, file_id),
        )
        conn.execute(
            "INSERT INTO media (file_id, taken, make, model) VALUES (?, ?, 'Canon', 'EOS 5D')", (file_id, taken)
        )
        if keyword:
            conn.execute(
                "INSERT INTO keywords (file_id, keyword, hierarchy) VALUES (?, ?, ?)",
                (file_id, keyword, f"Animals|{keyword.title()}s|{keyword}"),
            )


def _search(conn, text: str, **filters: str) -> list[str]:
    return [hit["path"] for hit in search_store.full_text(conn, match_expression(text), Filters(**filters), 50)]


def test_the_migration_indexes_existing_rows_and_triggers_follow_every_change(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    conn = store.conn
    # An engine from before the index: take 0009 out again, add photos, then open the store as an upgrade would.
    with transaction(conn):
        for kind, name in conn.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'search%'").fetchall():
            if kind in ("table", "view", "trigger") and not name.startswith("search_fts_"):
                conn.execute(f"DROP {kind.upper()} {name}")
        conn.execute("DELETE FROM schema_migrations WHERE name = '0009_search.sql'")
    _add_file(conn, 1, "/lib/Holiday 2021/IMG_0001.jpg", "cat", "2021-06-01T10:00:00")
    _add_file(conn, 2, "/lib/Work/scan.png", "dog", "2022-01-01T10:00:00")
    store.close()
    conn = Store(tmp_path / "db.sqlite").conn
    assert _search(conn, "cats") == ["/lib/Holiday 2021/IMG_0001.jpg"]  # backfilled; stemmed
    assert _search(conn, "holiday canon") == ["/lib/Holiday 2021/IMG_0001.jpg"]  # folder + camera
    hit = search_store.full_text(conn, match_expression("holiday cat"), Filters(), 5)[0]
    assert hit["why"] == [{"field": "keywords", "words": ["cat", "cats"]}, {"field": "folder", "words": ["holiday"]}]

    with transaction(conn):
        conn.execute("UPDATE files SET path = '/lib/Work/renamed.png' WHERE id = 2")
        conn.execute("INSERT INTO keywords (file_id, keyword) VALUES (2, 'receipt')")
    assert _search(conn, "renamed receipt") == ["/lib/Work/renamed.png"]
    assert _search(conn, "scan") == []
    with transaction(conn):
        conn.execute("DELETE FROM keywords WHERE file_id = 2 AND keyword = 'receipt'")
        conn.execute("UPDATE files SET present = 0 WHERE id = 1")
    assert _search(conn, "receipt") == [] and _search(conn, "cat") == []
    with transaction(conn):
        conn.execute("DELETE FROM files WHERE id = 2")
    assert search_store.indexed_text(conn, 2) is None and _search(conn, "dog") == []


def test_filters_and_query_syntax(tmp_path: Path) -> None:
    conn = Store(tmp_path / "db.sqlite").conn
    _add_file(conn, 1, "/lib/a/one.jpg", "cat", "2020-05-01T09:00:00")
    _add_file(conn, 2, "/lib/b/two.jpg", "cat", "2022-05-01T09:00:00")
    _add_file(conn, 3, "/lib/b/three.jpg", "dog", "2022-05-02T09:00:00")
    assert _search(conn, "cat", after="2021-01-01") == ["/lib/b/two.jpg"]
    assert _search(conn, "", folder="/lib/b", keyword="dog") == ["/lib/b/three.jpg"]
    assert sorted(_search(conn, "canon -dog")) == ["/lib/a/one.jpg", "/lib/b/two.jpg"]
    assert _search(conn, "keyword:dog") == ["/lib/b/three.jpg"] and _search(conn, "name:dog") == []
    assert _search(conn, 'OR AND NOT "unbalanced') == []  # user words are never FTS syntax
    until = Filters.from_json({"before": "2022-05-01"})
    assert until.before == "2022-05-01T23:59:59"  # the whole day counts
    assert [hit["path"] for hit in search_store.full_text(conn, None, until, 9)] == ["/lib/b/two.jpg", "/lib/a/one.jpg"]


def test_search_through_the_engine_finds_cats_filters_by_date_and_forgets_deleted_photos(engine_factory) -> None:
    engine: Engine = engine_factory("[tagging]\nenabled = true\n", start=False)
    labelled = corpus() / "labelled"
    engine.drop.mkdir(parents=True, exist_ok=True)
    stamps = {name: "2020-03-01" for name in CATS_2020} | {name: "2022-03-01" for name in CATS_2022 + OTHERS}
    for name, day in stamps.items():
        target = engine.drop / name
        shutil.copy(labelled / name, target)
        moment = time.mktime(time.strptime(day + " 12:00", "%Y-%m-%d %H:%M"))
        os.utime(target, (moment, moment))  # no EXIF in these: the taken date is the file's time
    engine.start()
    engine.wait_idle(len(stamps), timeout=240)

    def found(*args: str) -> set[str]:
        result = engine.cli("search", *args, "--json")
        assert result.returncode == 0, result.stderr
        return {Path(hit["path"]).name for hit in json.loads(result.stdout)["results"]}

    assert found("cat") == set(CATS_2020 + CATS_2022)
    plain = engine.cli("search", "cat")
    assert "keywords: cat" in plain.stdout and "tabby" not in found("elephant"), plain.stdout
    assert found("--keyword", "cat", "--after", "2021-01-01", "--before", "2022-12-31") == set(CATS_2022)
    assert found("cat", "--before", "2020-03-01") == set(CATS_2020)

    (engine.drop / CATS_2022[0]).unlink()
    wait_for(lambda: CATS_2022[0] not in found("cat"), 30, 0.5, "the deleted cat leaves the results")
    assert found("cat") == set(CATS_2020 + CATS_2022[1:])
    (engine.drop / CATS_2020[0]).rename(engine.drop / "kitchen_window.jpg")
    wait_for(lambda: found("kitchen") == {"kitchen_window.jpg"}, 30, 0.5, "the moved photo is found by its new name")
    assert engine.stop() == 0


def test_fusion_keeps_both_reasons_and_drops_image_hits_the_filters_refuse() -> None:
    text_hits = [
        {"file_id": 1, "path": "/a.jpg", "taken": None, "score": 3.0, "why": [{"field": "keywords", "words": ["cat"]}]},
        {"file_id": 2, "path": "/b.jpg", "taken": None, "score": 1.0, "why": [{"field": "name", "words": ["cat"]}]},
    ]
    image_hits = [(2, 0.31), (3, 0.30), (4, 0.29)]  # 4 is not in `known`: a filter refused it
    known = {2: {"path": "/b.jpg", "taken": None}, 3: {"path": "/c.jpg", "taken": None}}
    merged = fuse(text_hits, image_hits, known, 10)
    assert [hit["path"] for hit in merged] == ["/b.jpg", "/a.jpg", "/c.jpg"]  # in both lists: first
    assert merged[0]["why"] == [{"field": "name", "words": ["cat"]}, {"field": "image", "similarity": 0.31}]
    assert merged[2]["why"] == [{"field": "image", "similarity": 0.3}]


def test_with_a_clip_backend_search_merges_image_similarity(engine_factory, tmp_path: Path, monkeypatch) -> None:
    from tests.tiny_models import write_clip

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = write_clip(tmp_path / "tiny-clip")
    tagging = f'[tagging]\nenabled = true\nbackend = "clip"\nmodel = "{model}"\nclip_onnx_int8 = false\n'
    engine: Engine = engine_factory(tagging, start=False)
    engine.drop.mkdir(parents=True, exist_ok=True)
    for name in CATS_2020 + OTHERS:
        shutil.copy(corpus() / "labelled" / name, engine.drop / name)
    engine.start()
    engine.wait_idle(len(CATS_2020 + OTHERS), timeout=240)
    result = engine.cli("search", "felix", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["clip"] and data["note"] is None
    by_name = {Path(hit["path"]).name: hit["why"] for hit in data["results"]}
    assert set(by_name) == set(CATS_2020 + OTHERS)  # every photo is an image neighbour; only the cats match by name
    for name in CATS_2020:
        assert {"field": "name", "words": ["felix"]} in by_name[name]
    assert all(any(reason["field"] == "image" for reason in why) for why in by_name.values())
    filtered = engine.cli("search", "felix", "--folder", str(engine.drop / "elsewhere"), "--json")
    assert json.loads(filtered.stdout)["results"] == []  # the filters hold for image neighbours too
    assert engine.stop() == 0


def test_past_the_rank_limit_the_newest_matches_come_first(tmp_path: Path, monkeypatch) -> None:
    conn = Store(tmp_path / "db.sqlite").conn
    for file_id in range(1, 6):
        _add_file(conn, file_id, f"/lib/{file_id}.jpg", "cat", "2020-01-01T00:00:00")
    assert search_store.by_relevance(conn, match_expression("cat"))
    monkeypatch.setattr(search_store, "RANK_LIMIT", 3)  # five match: too many to rank
    assert not search_store.by_relevance(conn, match_expression("cat"))
    assert _search(conn, "cat") == [f"/lib/{file_id}.jpg" for file_id in (5, 4, 3, 2, 1)]
