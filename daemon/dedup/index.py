"""Multi-index hashing over 64-bit hashes: every known image within Hamming distance d of a hash, without a scan.

The 64 bits are cut into 4 bands of 16 bits. Two hashes within distance d agree to within d // 4 bits in at least one
band (pigeonhole), so a query probes, in each band, the buckets of every 16-bit key within d // 4 bits of its own
(1 + 16 + 120 keys per band for d <= 11) and verifies those candidates with a full XOR + popcount: exact recall.
The brief's "d + 1 bands, exact match per band" is the special case d // bands = 0; with d = 10 it would leave
6-bit bands whose buckets hold N / 64 entries each (~170k candidates per query at 1M), 20 times more than here.

Each band keeps its hashes sorted by band key beside the positions, so a bucket is one contiguous slice (no random
gather). Entries added after the build go to a small unsorted delta, scanned directly and merged in when it grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

BANDS = 4
BAND_BITS = 16
BUCKETS = 1 << BAND_BITS
_SHIFTS = np.array([band * BAND_BITS for band in range(BANDS)], dtype=np.uint64)
_LOW16 = np.uint64(BUCKETS - 1)
# Candidates per vectorised step: small enough for the step's arrays to stay in the CPU cache (measured best).
_CHUNK_CANDIDATES = 400_000


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def band_keys(values: np.ndarray) -> np.ndarray:
    """The (n, 4) 16-bit band keys of uint64 values."""
    return ((values[:, None] >> _SHIFTS[None, :]) & _LOW16).astype(np.uint16)


class HashIndex:
    """Known (id, 64-bit hash) entries; answers which lie within a Hamming radius of a hash. Ids are unique."""

    def __init__(self, ids: Iterable[int] | np.ndarray = (), values: Iterable[int] | np.ndarray = ()):
        self._masks: dict[int, np.ndarray] = {}
        self._delta_ids: list[int] = []
        self._delta_values: list[int] = []
        self._delta_at: dict[int, int] = {}
        self._delta_dead: set[int] = set()
        self._build(np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=np.uint64))

    # -- building -------------------------------------------------------------------------------------------

    def _build(self, ids: np.ndarray, values: np.ndarray) -> None:
        if ids.shape != values.shape:
            raise ValueError("ids and values must have the same length")
        order = np.argsort(ids, kind="stable")
        ids, values = ids[order], values[order]
        if len(ids) > 1 and np.any(ids[1:] == ids[:-1]):
            keep = np.ones(len(ids), dtype=bool)
            keep[:-1] = ids[1:] != ids[:-1]  # the last value given for an id wins
            ids, values = ids[keep], values[keep]
        n = len(ids)
        self.ids = ids
        self.values = values
        self.alive = np.ones(n, dtype=bool)
        self._dead = 0
        self._order = np.empty((BANDS, n), dtype=np.int32)
        self._sorted = np.empty((BANDS, n), dtype=np.uint64)
        self._starts = np.empty((BANDS, BUCKETS + 1), dtype=np.int64)
        keys = band_keys(values)
        for band in range(BANDS):
            key = keys[:, band]
            order = np.argsort(key, kind="stable")
            self._order[band] = order
            self._sorted[band] = values[order]
            self._starts[band, 0] = 0
            np.cumsum(np.bincount(key, minlength=BUCKETS), out=self._starts[band, 1:])

    def compact(self) -> None:
        """Merge the delta into the sorted bands and drop removed entries."""
        if not self._delta_ids and not self._dead:
            return
        live = self.alive
        delta_ids = [i for i in self._delta_ids if i not in self._delta_dead]
        delta_values = [
            v for i, v in zip(self._delta_ids, self._delta_values, strict=True) if i not in self._delta_dead
        ]
        ids = np.concatenate([self.ids[live], np.array(delta_ids, dtype=np.int64)])
        values = np.concatenate([self.values[live], np.array(delta_values, dtype=np.uint64)])
        self._delta_ids, self._delta_values, self._delta_at, self._delta_dead = [], [], {}, set()
        self._build(ids, values)

    # -- changes --------------------------------------------------------------------------------------------

    def add(self, entry_id: int, value: int) -> None:
        """Insert or replace one entry."""
        self.remove(entry_id)
        self._delta_dead.discard(entry_id)
        if entry_id in self._delta_at:
            self._delta_values[self._delta_at[entry_id]] = value
        else:
            self._delta_at[entry_id] = len(self._delta_ids)
            self._delta_ids.append(entry_id)
            self._delta_values.append(value)
        if len(self._delta_ids) > max(2048, len(self.ids) // 16):
            self.compact()

    def remove(self, entry_id: int) -> None:
        at = int(np.searchsorted(self.ids, entry_id))
        if at < len(self.ids) and self.ids[at] == entry_id and self.alive[at]:
            self.alive[at] = False
            self._dead += 1
        if entry_id in self._delta_at:
            self._delta_dead.add(entry_id)

    def __len__(self) -> int:
        return len(self.ids) - self._dead + len(self._delta_ids) - len(self._delta_dead)

    def __contains__(self, entry_id: int) -> bool:
        if entry_id in self._delta_at:
            return entry_id not in self._delta_dead
        at = int(np.searchsorted(self.ids, entry_id))
        return at < len(self.ids) and self.ids[at] == entry_id and bool(self.alive[at])

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.values, self.alive, self._order, self._sorted, self._starts)
        return sum(array.nbytes for array in arrays) + 64 * len(self._delta_ids)

    # -- queries --------------------------------------------------------------------------------------------

    def query(self, value: int, radius: int) -> list[tuple[int, int]]:
        """(id, distance) of every entry within `radius` bits of `value`, nearest first."""
        query = np.array([value], dtype=np.uint64)
        found: dict[int, int] = {}
        for _, positions, distances in self._search(query, radius):
            for position, distance in zip(positions.tolist(), distances.tolist(), strict=True):
                found[int(self.ids[position])] = distance
        for entry_id, stored in zip(self._delta_ids, self._delta_values, strict=True):
            distance = (stored ^ value).bit_count()
            if distance <= radius and entry_id not in self._delta_dead:
                found[entry_id] = distance
        return sorted(found.items(), key=lambda item: (item[1], item[0]))

    def pairs(self, radius: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of entries within `radius` (each once, first id < second id) and their distances."""
        self.compact()
        n = len(self.ids)
        per_query = max(1, self._expected_candidates(radius))
        step = max(1, min(n, _CHUNK_CANDIDATES // per_query))
        chunks = [(start, min(n, start + step)) for start in range(0, n, step)]

        def run(chunk: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            start, stop = chunk
            firsts, seconds, dists = [], [], []
            for query_rows, positions, distances in self._search(self.values[start:stop], radius):
                rows = query_rows + start
                later = positions > rows  # positions are in id order: keep each pair once
                firsts.append(self.ids[rows[later]])
                seconds.append(self.ids[positions[later]])
                dists.append(distances[later])
            return _concat(firsts, np.int64), _concat(seconds, np.int64), _concat(dists, np.int64)

        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(run, chunks))
        else:
            parts = [run(chunk) for chunk in chunks]
        return (
            _concat([p[0] for p in parts], np.int64),
            _concat([p[1] for p in parts], np.int64),
            _concat([p[2] for p in parts], np.int64),
        )

    def _expected_candidates(self, radius: int) -> int:
        return BANDS * len(self._masks_for(radius // BANDS)) * max(1, len(self.ids)) // BUCKETS

    def _masks_for(self, sub_radius: int) -> np.ndarray:
        masks = self._masks.get(sub_radius)
        if masks is None:
            keys = np.arange(BUCKETS, dtype=np.uint32)
            masks = keys[np.bitwise_count(keys) <= sub_radius].astype(np.int64)
            self._masks[sub_radius] = masks
        return masks

    def _search(self, queries: np.ndarray, radius: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(query row, position, distance) of live static entries within `radius`, each pair once, in chunks.

        Band by band and in small chunks, so a step's arrays (and the band's sorted hashes) stay in the CPU cache.
        """
        n = len(self.ids)
        if n == 0 or len(queries) == 0:
            return
        sub_radius = radius // BANDS
        masks = self._masks_for(sub_radius)
        per_query = max(1, len(masks) * n // BUCKETS)
        step = max(1, _CHUNK_CANDIDATES // per_query)
        for start in range(0, len(queries), step):
            chunk = queries[start : start + step]
            keys = band_keys(chunk).astype(np.int64)
            for band in range(BANDS):
                starts = self._starts[band]
                probes = (keys[:, band, None] ^ masks[None, :]).reshape(-1)
                low = starts[probes]
                lengths = starts[probes + 1] - low
                per_query = lengths.reshape(len(chunk), len(masks)).sum(axis=1)
                filled = np.flatnonzero(lengths)
                low, lengths = low[filled], lengths[filled]
                total = int(per_query.sum())
                if total == 0:
                    continue
                flat = _runs(low, lengths, total)
                candidates = np.take(self._sorted[band], flat, mode="clip")
                candidates ^= np.repeat(chunk, per_query)  # a query's candidates are contiguous: long runs
                distances = np.bitwise_count(candidates)
                hits = np.flatnonzero(distances <= radius)
                if len(hits) == 0:
                    continue
                query_rows = np.searchsorted(np.cumsum(per_query), hits, side="right")
                xor, distances = candidates[hits], distances[hits].astype(np.int64)
                positions = self._order[band][flat[hits]].astype(np.int64)
                # A pair may sit within sub_radius in several bands: keep it for the first such band only.
                keep = self.alive[positions]
                for earlier in range(band):
                    keep &= np.bitwise_count((xor >> _SHIFTS[earlier]) & _LOW16) > sub_radius
                yield query_rows[keep] + start, positions[keep], distances[keep]


def _runs(low: np.ndarray, lengths: np.ndarray, total: int) -> np.ndarray:
    """Concatenated ranges low[k] .. low[k] + lengths[k] - 1 as one array (lengths > 0).

    A cumulative sum of steps: 1 inside a range, a jump at each range start. np.repeat is much slower on the short
    ranges (a few entries per bucket) this produces.
    """
    steps = np.ones(total, dtype=np.int64)
    range_starts = np.cumsum(lengths) - lengths
    steps[0] = low[0]
    steps[range_starts[1:]] = low[1:] - (low[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps, out=steps)


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
