"""The pHash and dHash of an image in all 8 orientations (4 turns, each mirrored or not) from one small resize.

A copy saved turned (its Orientation tag dropped by a converter or messenger) or mirrored (a selfie flipped) hashes
like one of these. Turning a 32x32 or 9x8 array costs microseconds; imagehash would resize the image 8 times.
"""

from __future__ import annotations

import numpy as np
import scipy.fftpack
from PIL import Image

from daemon.dedup.grouping import MIRRORED

# (degrees turned counter-clockwise, mirrored left-right first); a link's `rotation` is degrees (+ MIRRORED).
VARIANTS = [(degrees, mirrored) for mirrored in (False, True) for degrees in (0, 90, 180, 270)]


def _bits(values: np.ndarray) -> int:
    """A boolean array as imagehash prints it: row-major, the first element the highest bit."""
    return int("".join("1" if bit else "0" for bit in values.ravel()), 2)


def _turned(pixels: np.ndarray, degrees: int, mirrored: bool) -> np.ndarray:
    if mirrored:
        pixels = pixels[:, ::-1]
    return np.rot90(pixels, degrees // 90)


def orientation_hashes(grey: Image.Image) -> list[tuple[int, int, int]]:
    """(rotation code, pHash, dHash) for each of the 8 orientations; code 0 is the image as given (imagehash's
    phash and dhash of it, bit for bit), 90/180/270 turned counter-clockwise, +MIRRORED mirrored first."""
    grey = grey.convert("L")
    square = np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    wide = np.asarray(grey.resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)  # rows 8, columns 9
    tall = np.asarray(grey.resize((8, 9), Image.Resampling.LANCZOS), dtype=np.int16)  # turned 90: becomes 8 x 9
    out = []
    for degrees, mirrored in VARIANTS:
        turned = _turned(square, degrees, mirrored)
        dct = scipy.fftpack.dct(scipy.fftpack.dct(turned, axis=0), axis=1)[:8, :8]
        phash = _bits(dct > np.median(dct))
        small = _turned(wide if degrees in (0, 180) else tall, degrees, mirrored)
        dhash = _bits(small[:, 1:] > small[:, :-1])
        out.append((degrees + (MIRRORED if mirrored else 0), phash, dhash))
    return out
