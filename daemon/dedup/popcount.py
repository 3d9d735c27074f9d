"""Bits set in each element of an unsigned integer array, on every numpy the project supports.

numpy 2 has `np.bitwise_count`; numpy 1.26 (still allowed by pyproject) does not, so there it is a byte-table lookup.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_BITS_IN_BYTE = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)


def popcount_by_bytes(values: np.ndarray) -> np.ndarray:
    """What `np.bitwise_count` answers for unsigned integers (uint8 counts, same shape), without numpy 2."""
    array = np.ascontiguousarray(values)
    as_bytes = array.reshape(-1).view(np.uint8).reshape(*array.shape, array.itemsize)
    return _BITS_IN_BYTE[as_bytes].sum(axis=-1, dtype=np.uint8)


popcount: Callable[[np.ndarray], np.ndarray] = getattr(np, "bitwise_count", popcount_by_bytes)
