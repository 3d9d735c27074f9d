"""The review app's library paging on a real SQLite store: keyset pages cover every photo once, newest first.

Rows are written straight into files/media (what probe and hash would record); filters narrow the same order.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from daemon.store import Store, review


def fill(store: Store, count: int) -> list[tuple[str, int]]:
    rng = random.Random(7)
    expected = []
    with store.conn:
        for number in range(1, count + 1):
            folder = "/photos/a" if number % 2 else "/photos/b"
            store.conn.execute(
                "INSERT INTO files (id, path, root, size, mtime_ns, inode, sha256, first_seen, last_seen)"
                " VALUES (?, ?, '/photos', 1, 1, ?, ?, 0, 0)",
                (number, f"{folder}/{number}.jpg", number, f"{number:064x}"),
            )
            taken = None if number % 10 == 0 else f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            taken = "2020-01-01T00:00:00" if number % 7 == 0 else taken  # ties on the date: id decides
            camera = "iPhone 4" if number % 3 == 0 else "D700"
            store.conn.execute("INSERT INTO media (file_id, taken, model) VALUES (?, ?, ?)", (number, taken, camera))
            if number % 4 == 0:
                store.conn.execute(
                    "INSERT INTO tagging (file_id, backend, model, category, tagged_at) VALUES (?, 'x', 'x', 'Pets', 0)",
                    (number,),
                )
            if number % 5 == 0:
                store.conn.execute(
                    "INSERT INTO keywords (file_id, keyword, score, source) VALUES (?, 'Dog', 0.9, 'auto')", (number,)
                )
            expected.append((taken or "", number))
    return sorted(expected, reverse=True)


def every_page(store: Store, **filters: str) -> list[int]:
    seen, cursor = [], None
    while True:
        photos, cursor = review.library_page(store.conn, after=cursor, limit=25, **filters)
        seen += [photo["id"] for photo in photos]
        if cursor is None:
            return seen


def test_keyset_pages_cover_every_photo_once_newest_first_and_filters_keep_the_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    try:
        expected = fill(store, 237)
        assert every_page(store) == [number for _, number in expected]
        assert every_page(store, keyword="dog") == [n for _, n in expected if n % 5 == 0]
        assert every_page(store, camera="iPhone 4") == [n for _, n in expected if n % 3 == 0]
        assert every_page(store, folder="/photos/a") == [n for _, n in expected if n % 2]
        in_2020 = [n for taken, n in expected if taken[:4] == "2020"]
        assert in_2020 and every_page(store, since="2020-01-01", until="2020-12-31") == in_2020
        assert every_page(store, since="2020-01-01", until="2020-01-01") == [
            n for t, n in expected if t[:10] == "2020-01-01"
        ]
        assert every_page(store, category="pets") == [n for _, n in expected if n % 4 == 0]
        if os.sep == "/":
            assert every_page(store, folder="/photos/a/") == [n for _, n in expected if n % 2]
        assert review.cameras(store.conn) == ["D700", "iPhone 4"]
        ran: list[str] = []
        store.conn.set_trace_callback(ran.append)  # the statement the page really runs, values bound
        review.library_page(store.conn, after=("2020-01-01T00:00:00", 70), limit=25)
        store.conn.set_trace_callback(None)
        [page_sql] = [sql for sql in ran if sql.startswith("SELECT files.id")]
        plan = [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + page_sql)]
        assert not any("TEMP B-TREE" in step for step in plan), plan  # read in index order: no sort of the library
        assert any("SEARCH media USING INDEX media_taken" in step for step in plan), plan  # seeks to the cursor
    finally:
        store.close()
