"""Multi-index hashing over 64-bit hashes: every known image within Hamming distance d of a hash, without a scan.

The 64 bits are cut into 4 bands of 16 bits. Two hashes within distance d agree to within d // 4 bits in at least one
band (pigeonhole), so a query probes, in each band, the buckets of every 16-bit key within d // 4 bits of its own
(1 + 16 + 120 keys per band for d <= 11) and verifies those candidates with a full XOR + popcount: exact recall.
The brief's "d + 1 bands, exact match per band" is the special case d // bands = 0; with d = 10 it would leave
6-bit bands whose buckets hold N / 64 entries each (~170k candidates per query at 1M), 20 times more than here.

Each band keeps its hashes sorted by band key beside the positions, so a bucket is one contiguous slice (no random
gather). Entries added after the build go to a small unsorted delta, scanned directly and merged in when it grows;\na small index (under SCAN_BELOW entries) is scanned too, which is faster there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from daemon.dedup.popcount import popcount

BANDS = 4
BAND_BITS = 16
BUCKETS = 1 << BAND_BITS
_SHIFTS = np.array([band * BAND_BITS for band in range(BANDS)], dtype=np.uint64)
_LOW16 = np.uint64(BUCKETS - 1)
# Candidates per vectorised step: small enough for the step's arrays to stay in the CPU cache (measured best).
_CHUNK_CANDIDATES = 400_000
# Up to this many entries a query scans them all (numpy XOR + popcount): cheaper than the fixed cost of probing.
SCAN_BELOW = 50_000


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def band_keys(values: np.ndarray) -> np.ndarray:
    """The (n, 4) 16-bit band keys of uint64 values."""
    return ((values[:, None] >> _SHIFTS[None, :]) & _LOW16).astype(np.uint16)


class HashIndex:
    """Known (id, 64-bit hash) entries; answers which lie within a Hamming radius of a hash. Ids are unique."""

    def __init__(
        self,
        ids: Iterable[int] | np.ndarray = (),
        values: Iterable[int] | np.ndarray = (),
        scan_below: int = SCAN_BELOW,
    ):
        self.scan_below = scan_below
        self._masks: dict[int, np.ndarray] = {}
        self._reset_delta()
        self._build(np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=np.uint64))

    # -- building -------------------------------------------------------------------------------------------

    def _build(self, ids: np.ndarray, values: np.ndarray) -> None:
        if ids.shape != values.shape:
            raise ValueError("ids and values must have the same length")
        if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):  # the store hands them over sorted already
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
        for band in range(BANDS):
            key = ((values >> _SHIFTS[band]) & _LOW16).astype(np.uint16)  # one band at a time: less peak memory
            order = np.argsort(key, kind="stable")
            self._order[band] = order
            self._sorted[band] = values[order]
            self._starts[band, 0] = 0
            np.cumsum(np.bincount(key, minlength=BUCKETS), out=self._starts[band, 1:])
        # The same tables seen as one flat array over all bands, for a single query probing all bands at once.
        self._band_base = (np.arange(BANDS, dtype=np.int64) * n)[:, None]
        self._sorted_flat = self._sorted.reshape(-1)
        self._order_flat = self._order.reshape(-1)

    def _reset_delta(self, capacity: int = 1024) -> None:
        self._delta_ids = np.zeros(capacity, dtype=np.int64)
        self._delta_values = np.zeros(capacity, dtype=np.uint64)
        self._delta_alive = np.zeros(capacity, dtype=bool)
        self._delta_used = 0
        self._delta_at: dict[int, int] = {}

    def compact(self) -> None:
        """Merge the delta into the sorted bands and drop removed entries."""
        if not self._delta_used and not self._dead:
            return
        live = self._delta_alive[: self._delta_used]
        ids = np.concatenate([self.ids[self.alive], self._delta_ids[: self._delta_used][live]])
        values = np.concatenate([self.values[self.alive], self._delta_values[: self._delta_used][live]])
        self._reset_delta()
        self._build(ids, values)

    # -- changes --------------------------------------------------------------------------------------------

    def add(self, entry_id: int, value: int) -> None:
        """Insert or replace one entry."""
        self._remove_static(entry_id)
        slot = self._delta_at.get(entry_id)
        if slot is None:
            if self._delta_used == len(self._delta_ids):
                grown = 2 * len(self._delta_ids)
                self._delta_ids = np.resize(self._delta_ids, grown)
                self._delta_values = np.resize(self._delta_values, grown)
                self._delta_alive = np.resize(self._delta_alive, grown)
                self._delta_alive[self._delta_used :] = False
            slot = self._delta_used
            self._delta_used += 1
            self._delta_at[entry_id] = slot
            self._delta_ids[slot] = entry_id
        self._delta_values[slot] = value
        self._delta_alive[slot] = True
        if self._delta_used > max(2048, len(self.ids) // 16):
            self.compact()

    def remove(self, entry_id: int) -> None:
        self._remove_static(entry_id)
        slot = self._delta_at.get(entry_id)
        if slot is not None:
            self._delta_alive[slot] = False

    def _remove_static(self, entry_id: int) -> None:
        at = int(np.searchsorted(self.ids, entry_id))
        if at < len(self.ids) and self.ids[at] == entry_id and self.alive[at]:
            self.alive[at] = False
            self._dead += 1

    def __len__(self) -> int:
        return len(self.ids) - self._dead + int(self._delta_alive[: self._delta_used].sum())

    def __contains__(self, entry_id: int) -> bool:
        slot = self._delta_at.get(entry_id)
        if slot is not None and self._delta_alive[slot]:
            return True
        at = int(np.searchsorted(self.ids, entry_id))
        return at < len(self.ids) and self.ids[at] == entry_id and bool(self.alive[at])

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.values, self.alive, self._order, self._sorted, self._starts)
        delta = (self._delta_ids, self._delta_values, self._delta_alive)
        return sum(array.nbytes for array in (*arrays, *delta)) + 100 * len(self._delta_at)

    # -- queries --------------------------------------------------------------------------------------------

    def query(self, value: int, radius: int) -> list[tuple[int, int]]:
        """(id, distance) of every entry within `radius` bits of `value`, nearest first."""
        ids, distances = self.query_arrays(value, radius)
        order = np.lexsort((ids, distances))
        return list(zip(ids[order].tolist(), distances[order].tolist(), strict=True))

    def query_arrays(self, value: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and distances of every entry within `radius` bits of `value`, in no particular order."""
        query = np.uint64(value)
        probed = None if len(self.ids) <= self.scan_below else self._probe(query, radius)
        if probed is None:  # a small table, or a crowded neighbourhood: one pass over everything costs less
            distances = popcount(self.values ^ query)
            positions = np.flatnonzero((distances <= radius) & self.alive)
            distances = distances[positions]
        else:
            positions, distances = probed
        ids, dists = self.ids[positions], distances.astype(np.int64)
        if self._delta_used:
            delta_distances = popcount(self._delta_values[: self._delta_used] ^ query)
            near = np.flatnonzero((delta_distances <= radius) & self._delta_alive[: self._delta_used])
            ids = np.concatenate([ids, self._delta_ids[near]])
            dists = np.concatenate([dists, delta_distances[near].astype(np.int64)])
        return ids, dists

    def _probe(self, query: np.uint64, radius: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Positions and distances of live static entries within `radius`: all four bands in one pass.

        None when the probed buckets hold more than a third of all entries (thousands of near-identical hashes):
        then a plain scan is cheaper than gathering them.
        """
        n = len(self.ids)
        sub_radius = radius // BANDS
        keys = ((query >> _SHIFTS) & _LOW16).astype(np.int64)
        probes = keys[:, None] ^ self._masks_for(sub_radius)[None, :]
        low = np.take_along_axis(self._starts, probes, axis=1)
        lengths = (np.take_along_axis(self._starts, probes + 1, axis=1) - low).reshape(-1)
        low = (low + self._band_base).reshape(-1)
        filled = np.flatnonzero(lengths)
        low, lengths = low[filled], lengths[filled]
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
        if 3 * total > n:
            return None
        flat = _runs(low, lengths, total)
        xor = np.take(self._sorted_flat, flat, mode="clip") ^ query
        distances = popcount(xor)
        hits = np.flatnonzero(distances <= radius)
        flat, xor, distances = flat[hits], xor[hits], distances[hits]
        band = flat // n
        keep = np.ones(len(hits), dtype=bool)
        for earlier in range(BANDS - 1):  # found again in a later band: keep the first band's copy only
            keep &= (band <= earlier) | (popcount((xor >> _SHIFTS[earlier]) & _LOW16) > sub_radius)
        positions = self._order_flat[flat[keep]].astype(np.int64)
        alive = self.alive[positions]
        return positions[alive], distances[keep][alive]

    def pairs(self, radius: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of entries within `radius` (each once, first id < second id) and their distances.

        A self-join: each entry probes only buckets above its own key, and its own bucket past itself, so every
        pair is looked at once per band instead of twice. Chunks run on `workers` threads (numpy releases the GIL).
        """
        self.compact()
        n = len(self.ids)
        ranks = np.empty((BANDS, n), dtype=np.int64)
        for band in range(BANDS):
            ranks[band, self._order[band]] = np.arange(n)
        per_query = max(1, self._expected_candidates(radius))
        step = max(1, min(n, _CHUNK_CANDIDATES // per_query))
        chunks = [(start, min(n, start + step)) for start in range(0, n, step)]

        def run(chunk: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            start, stop = chunk
            firsts, seconds, dists = [], [], []
            rows = np.arange(start, stop, dtype=np.int64)
            for query_rows, positions, distances in self._search(self.values[start:stop], radius, ranks[:, rows]):
                mine, theirs = self.ids[query_rows + start], self.ids[positions]
                firsts.append(np.minimum(mine, theirs))
                seconds.append(np.maximum(mine, theirs))
                dists.append(distances)
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
            masks = keys[popcount(keys) <= sub_radius].astype(np.int64)
            self._masks[sub_radius] = masks
        return masks

    def _search(
        self, queries: np.ndarray, radius: int, ranks: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(query row, position, distance) of live static entries within `radius`, each pair once, in chunks.

        Band by band and in small chunks, so a step's arrays (and the band's sorted hashes) stay in the CPU cache.
        `ranks` (self-join): the queries are entries themselves, at these ranks in each band's order; then only
        higher buckets and the entries after the query in its own bucket are probed.
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
                probe_keys = keys[:, band, None] ^ masks[None, :]
                probes = probe_keys.reshape(-1)
                low = starts[probes]
                lengths = starts[probes + 1] - low
                if ranks is not None:  # masks[0] is 0: the own bucket, from just past the query
                    low = low.reshape(len(chunk), len(masks))
                    lengths = lengths.reshape(len(chunk), len(masks))
                    own_end = low[:, 0] + lengths[:, 0]
                    low[:, 0] = ranks[band, start : start + len(chunk)] + 1
                    lengths[:, 0] = own_end - low[:, 0]
                    lengths[:, 1:] *= probe_keys[:, 1:] > keys[:, band, None]
                    low, lengths = low.reshape(-1), lengths.reshape(-1)
                per_query = lengths.reshape(len(chunk), len(masks)).sum(axis=1)
                filled = np.flatnonzero(lengths)
                low, lengths = low[filled], lengths[filled]
                total = int(per_query.sum())
                if total == 0:
                    continue
                flat = _runs(low, lengths, total)
                candidates = np.take(self._sorted[band], flat, mode="clip")
                candidates ^= np.repeat(chunk, per_query)  # a query's candidates are contiguous: long runs
                distances = popcount(candidates)
                hits = np.flatnonzero(distances <= radius)
                if len(hits) == 0:
                    continue
                query_rows = np.searchsorted(np.cumsum(per_query), hits, side="right")
                xor, distances = candidates[hits], distances[hits].astype(np.int64)
                positions = self._order[band][flat[hits]].astype(np.int64)
                # A pair may sit within sub_radius in several bands: keep it for the first such band only.
                keep = self.alive[positions]
                for earlier in range(band):
                    keep &= popcount((xor >> _SHIFTS[earlier]) & _LOW16) > sub_radius
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
