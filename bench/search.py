"""One search at scale: N synthetic photos (default 1,000,000) in a temp SQLite file, indexed by migration 0009.

Figures: time to backfill the index, index bytes per photo, p50/p95/max of two-word queries (top 20: BM25-ranked,
or the newest when over 2,000 match) in wall time and in this process's CPU time (the shared machine's load average
is printed: under load the wall time mostly measures waiting for a core), and of the same queries with a date filter;
each as the backfill left the index and after the nightly maintenance merged it, the engine's way (common terms
only filter) against the previous way (BM25 over every term), and the naive way (LIKE over every field).
Usage: python -m bench.search [--rows 1000000] [--queries 200] [--naive 3] [--keep DB]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

from bench.common import emit, log
from daemon.search.query import Filters, match_expression
from daemon.store import Store, maintenance
from daemon.store import search as search_store
from daemon.store.connection import connect, transaction
from daemon.store.schema import migrate

RNG = random.Random(20261203)
CAMERAS = (
    [("Canon", f"EOS {n}D") for n in range(1, 9)]
    + [("NIKON", f"D{n}00") for n in range(3, 9)]
    + [("Apple", f"iPhone {n}") for n in range(6, 16)]
)


def vocabulary(size: int) -> list[str]:
    """Pronounceable distinct words, so the tokenizer sees realistic terms."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de", "fi", "go", "hu", "pa", "ze", "ri"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(RNG.choice(syllables) for _ in range(RNG.randint(2, 4))))
    return sorted(words)


def zipf_weights(count: int) -> list[float]:
    return [1.0 / (rank + 1) for rank in range(count)]


def fill(conn, rows: int, keywords: list[str], words: list[str]) -> None:
    """Files, media, keywords and captions as the stages would record them (before the index exists)."""
    rng = np.random.default_rng(20261203)
    keyword_p, word_p = zipf(len(keywords)), zipf(len(words))
    batch = 50_000
    for start in range(0, rows, batch):
        ids = np.arange(start + 1, min(start + batch, rows) + 1)
        count = len(ids)
        events = rng.choice(len(words), count, p=word_p)
        cameras = rng.integers(0, len(CAMERAS), count)
        keyword_counts = rng.integers(3, 9, count)
        keyword_picks = rng.choice(len(keywords), int(keyword_counts.sum()), p=keyword_p)
        caption_words = rng.choice(len(words), (count, 8), p=word_p)
        files, media, tags, tagging = [], [], [], []
        offset = 0
        for row, file_id in enumerate(ids.tolist()):
            year, month = 2005 + file_id % 20, 1 + file_id % 12
            files.append(
                (file_id, f"/library/{year}/{year}-{month:02d} {words[events[row]]}/IMG_{file_id:07d}.jpg", file_id)
            )
            make, model = CAMERAS[cameras[row]]
            media.append((file_id, f"{year}-{month:02d}-{1 + file_id % 28:02d}T12:00:00", make, model))
            picks = {keywords[index] for index in keyword_picks[offset : offset + keyword_counts[row]]}
            offset += keyword_counts[row]
            tags.extend((file_id, keyword, f"Things|{keyword[:2].title()}|{keyword}") for keyword in picks)
            caption = " ".join(words[index] for index in caption_words[row])
            tagging.append((file_id, caption, keywords[file_id % 20]))
        with transaction(conn):
            conn.executemany(
                "INSERT INTO files (id, path, root, size, mtime_ns, inode, first_seen, last_seen)"
                " VALUES (?, ?, '/library', 1, 1, ?, 0, 0)",
                files,
            )
            conn.executemany("INSERT INTO media (file_id, taken, make, model) VALUES (?, ?, ?, ?)", media)
            conn.executemany("INSERT INTO keywords (file_id, keyword, hierarchy) VALUES (?, ?, ?)", tags)
            conn.executemany(
                "INSERT INTO tagging (file_id, backend, model, caption, category, tagged_at)"
                " VALUES (?, 'imagenet', 'bench', ?, ?, 0)",
                tagging,
            )
        log(f"  {min(start + batch, rows)} / {rows} photos written")


def zipf(count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1)
    return weights / weights.sum()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}
    return {
        "p50_ms": round(median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def build_database(db: Path, rows: int, keywords: list[str], words: list[str]) -> dict[str, object]:
    """The photos first, then migration 0009 builds the index from them (as an upgrade would): its figures."""
    conn = connect(db)
    migrate(conn, before="0009")
    log(f"writing {rows} synthetic photos")
    fill(conn, rows, keywords, words)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size_before = db.stat().st_size
    started = time.perf_counter()
    applied = migrate(conn)
    backfill_s = time.perf_counter() - started
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index_bytes = db.stat().st_size - size_before
    conn.close()
    return {
        "migrations_applied": applied,
        "backfill_s": round(backfill_s, 1),
        "index_bytes_per_photo": round(index_bytes / rows, 1),
        "database_bytes_per_photo_before_index": round(size_before / rows, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--naive", type=int, default=3)
    parser.add_argument("--keep", help="build the database at this path once and reuse it on later runs")
    args = parser.parse_args()
    keywords, words = vocabulary(3000), vocabulary(8000)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(args.keep) if args.keep else Path(folder) / "bench.db"
        build = {}
        if not db.exists():
            build = build_database(db, args.rows, keywords, words)
        elif args.keep:
            log(f"reusing {db} (built before: its build figures are in that run's output)")
        conn = Store(db).conn
        pool = RNG.choices(keywords[:400], zipf_weights(400), k=args.queries)
        pairs = [(first, RNG.choice(keywords[:1500])) for first in pool]
        as_built = compare(conn, pairs)
        began = time.perf_counter()
        maintenance.optimize(conn)  # what the nightly maintenance does: the index merged into one segment
        merge_s = time.perf_counter() - began
        merged = compare(conn, pairs)
        naive = []
        for first, second in pairs[: args.naive]:
            began = time.perf_counter()
            search_store.naive_like(conn, [first, second], 20)
            naive.append((time.perf_counter() - began) * 1000)
        emit(
            {
                "rows": args.rows,
                **build,
                "load_average_1min": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
                "as_built": as_built,
                "maintenance_merge_s": round(merge_s, 1),
                "after_maintenance_merge": merged,
                "naive_like_scan": {**percentiles(naive), "queries": len(naive)},
            }
        )


def measure(conn, pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Two-word queries, top 20, without and with a date filter: wall and CPU time."""
    timings, cpu, hits, filtered = [], [], [], []
    date_filter = Filters(after="2010-01-01", before="2014-12-31T23:59:59")
    for first, second in pairs:
        expression = match_expression(f"{first} {second}")
        began, began_cpu = time.perf_counter(), time.process_time()
        found = search_store.full_text(conn, expression, Filters(), 20)
        timings.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        hits.append(len(found))
        began = time.perf_counter()
        search_store.full_text(conn, expression, date_filter, 20)
        filtered.append((time.perf_counter() - began) * 1000)
    return {
        "two_word_query": {**percentiles(timings), "queries": len(timings), "median_hits": median(hits)},
        "two_word_query_cpu_time": percentiles(cpu),
        "two_word_query_with_date_filter": percentiles(filtered),
    }


def compare(conn, pairs: list[tuple[str, str]]) -> dict[str, object]:
    """The engine's way, then the previous way in the same run: BM25 over every query term, so each query reads
    the posting lists of its common terms in full (COMMON_SHARE above 1: no term counts as common)."""
    search_store._COMMON_SEEN.clear()
    ours = measure(conn, pairs)
    share = search_store.COMMON_SHARE
    search_store.COMMON_SHARE = 2.0
    search_store._COMMON_SEEN.clear()
    try:
        previous = measure(conn, pairs)
    finally:
        search_store.COMMON_SHARE = share
        search_store._COMMON_SEEN.clear()
    return {"common_terms_only_filter": ours, "previous_bm25_over_every_term": previous}


if __name__ == "__main__":
    main()
