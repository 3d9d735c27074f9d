"""Dedup's Hamming distances on numpy 1.26 (no `np.bitwise_count`, which pyproject's numpy>=1.26 still allows).

The byte-table popcount against Python's int.bit_count, and the hash index in a process whose numpy lacks it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from daemon.dedup.popcount import popcount_by_bytes
from tests.support import REPO


def test_byte_table_popcount_counts_like_python_on_every_unsigned_width() -> None:
    rng = np.random.default_rng(7)
    for dtype, top in ((np.uint64, 2**64), (np.uint32, 2**32), (np.uint16, 2**16), (np.uint8, 2**8)):
        values = rng.integers(0, top, size=(40, 3), dtype=dtype)
        values[0, :] = [0, top - 1, 1]
        counts = popcount_by_bytes(values)
        assert counts.shape == values.shape and counts.dtype == np.uint8
        assert counts.tolist() == [[int(v).bit_count() for v in row] for row in values.tolist()]


def test_duplicate_search_works_on_a_numpy_without_bitwise_count() -> None:
    """What a user on numpy 1.26 runs: the index's scan, its band probes and its pairs, all by Hamming distance."""
    script = textwrap.dedent(
        """
        import numpy
        if hasattr(numpy, "bitwise_count"):
            del numpy.bitwise_count  # as on numpy 1.26, which has none
        from daemon.dedup.index import HashIndex

        rng = numpy.random.default_rng(3)
        values = rng.integers(0, 2**64, size=3000, dtype=numpy.uint64)
        values[1] = values[0] ^ numpy.uint64(0b1011)  # 3 bits from the first
        values[2] = values[0] ^ numpy.uint64(1 << 63)  # 1 bit from the first
        ids = numpy.arange(3000, dtype=numpy.int64)
        for scan_below in (0, 10_000):  # band probes, then a plain scan
            print(HashIndex(ids, values, scan_below=scan_below).query(int(values[0]), 4))
        first, second, distance = HashIndex(ids, values, scan_below=0).pairs(4)
        print(sorted(zip(first.tolist(), second.tolist(), distance.tolist())))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[(0, 0), (2, 1), (1, 3)]"] * 2 + ["[(0, 1, 3), (0, 2, 1), (1, 2, 4)]"]
