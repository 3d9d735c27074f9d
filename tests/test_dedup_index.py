"""The multi-index hash index against brute force on random hashes: exact recall at every radius, changes, pairs."""

from __future__ import annotations

import numpy as np
import pytest

from daemon.dedup.index import HashIndex
from daemon.dedup.popcount import popcount_by_bytes


def random_hashes(count: int, seed: int, planted: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random 64-bit hashes; the last `planted` are copies of the first ones with 0-14 bits flipped."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64, size=count, dtype=np.uint64)
    for k in range(planted):
        value = int(values[k])
        for bit in rng.choice(64, size=int(rng.integers(0, 15)), replace=False):
            value ^= 1 << int(bit)
        values[count - planted + k] = value
    ids = np.arange(count, dtype=np.int64) * 7 + 3  # ids need not be dense
    return ids, values


def brute(ids: np.ndarray, values: np.ndarray, query: int, radius: int) -> list[tuple[int, int]]:
    distances = popcount_by_bytes(values ^ np.uint64(query))  # not the index's own popcount (works on numpy 1.26)
    within = distances <= radius
    return sorted(zip(ids[within].tolist(), distances[within].tolist(), strict=True), key=lambda x: (x[1], x[0]))


@pytest.mark.parametrize("radius", [0, 1, 3, 4, 7, 8, 10, 11, 14, 16])
def test_query_finds_exactly_what_brute_force_finds(radius: int) -> None:
    ids, values = random_hashes(20_000, seed=radius, planted=2_000)
    index = HashIndex(ids, values, scan_below=0)  # always probe the bands (small indexes are scanned by default)
    rng = np.random.default_rng(100 + radius)
    queries = [int(v) for v in values[:150]]  # these have planted neighbours at 0-14 bits
    queries += [int(v) for v in rng.integers(0, 2**64, size=50, dtype=np.uint64)]  # and these mostly none
    found_any = 0
    for query in queries:
        expected = brute(ids, values, query, radius)
        assert index.query(query, radius) == expected
        found_any += len(expected) > 1
    if radius >= 4:
        assert found_any > 20, "the planted neighbours should be found at this radius"


def test_added_replaced_and_removed_entries_are_answered_like_brute_force() -> None:
    ids, values = random_hashes(5_000, seed=7, planted=500)
    index = HashIndex(ids[:4000], values[:4000], scan_below=0)
    for entry_id, value in zip(ids[4000:].tolist(), values[4000:].tolist(), strict=True):
        index.add(entry_id, value)  # 1000 adds: some go to the delta, the rest trigger a compaction
    live_ids, live_values = ids.copy(), values.copy()
    rng = np.random.default_rng(8)
    for position in rng.choice(5000, size=300, replace=False).tolist():
        new_value = int(rng.integers(0, 2**64, dtype=np.uint64))
        index.add(int(ids[position]), new_value)  # replace
        live_values[position] = new_value
    removed = rng.choice(5000, size=200, replace=False)
    for position in removed.tolist():
        index.remove(int(ids[position]))
    keep = np.ones(5000, dtype=bool)
    keep[removed] = False
    live_ids, live_values = live_ids[keep], live_values[keep]
    assert len(index) == len(live_ids)
    for query in values[:200].tolist():
        assert index.query(query, 10) == brute(live_ids, live_values, query, 10)
    index.compact()
    for query in values[:200].tolist():
        assert index.query(query, 10) == brute(live_ids, live_values, query, 10)


def test_pairs_are_every_pair_within_the_radius_once() -> None:
    ids, values = random_hashes(3_000, seed=11, planted=600)
    index = HashIndex(ids, values)
    first, second, distances = index.pairs(10, workers=2)
    matrix = popcount_by_bytes(values[:, None] ^ values[None, :])
    rows, cols = np.nonzero(np.triu(matrix <= 10, 1))
    expected = {(int(ids[r]), int(ids[c]), int(matrix[r, c])) for r, c in zip(rows, cols, strict=True)}
    got = list(zip(first.tolist(), second.tolist(), distances.tolist(), strict=True))
    assert len(got) == len(set(got)), "each pair once"
    assert set(got) == expected
    assert len(expected) > 100


def test_a_small_index_scans_and_answers_the_same() -> None:
    ids, values = random_hashes(4_000, seed=3, planted=400)
    scanned, probed = HashIndex(ids, values), HashIndex(ids, values, scan_below=0)
    for query in values[:300].tolist():
        assert scanned.query(query, 10) == probed.query(query, 10) == brute(ids, values, query, 10)


def test_an_empty_index_answers_nothing_and_grows() -> None:
    index = HashIndex()
    assert index.query(12345, 10) == []
    index.add(5, 0xFFFF_0000_FFFF_0000)
    assert index.query(0xFFFF_0000_FFFF_0001, 1) == [(5, 1)]
    assert 5 in index and 6 not in index
    index.remove(5)
    assert index.query(0xFFFF_0000_FFFF_0000, 10) == []
