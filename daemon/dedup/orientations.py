"""The pHash and dHash of an image in all 8 orientations (4 turns, each mirrored or not) from one small resize.

A copy saved turned (its Orientation tag dropped by a converter or messenger) or mirrored (a selfie flipped) hashes
like one of these. Turning a 32x32 or 9x8 array costs microseconds; imagehash would resize the image 8 times.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from daemon.dedup.grouping import MIRRORED

# (degrees turned counter-clockwise, mirrored left-right first); a link's `rotation` is degrees (+ MIRRORED).
VARIANTS = [(degrees, mirrored) for mirrored in (False, True) for degrees in (0, 90, 180, 270)]


def _bits(rows: np.ndarray) -> list[int]:
    """Each row of booleans as imagehash prints it: the first element the highest bit."""
    return [int.from_bytes(packed.tobytes(), "big") for packed in np.packbits(rows, axis=1)]


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
    import scipy.fftpack  # ~1 s to import: at the first photo, not at engine start

    squares = np.stack([_turned(square, degrees, mirrored) for degrees, mirrored in VARIANTS])
    low = scipy.fftpack.dct(scipy.fftpack.dct(squares, axis=1), axis=2)[:, :8, :8].reshape(len(VARIANTS), 64)
    phashes = _bits(low > np.median(low, axis=1, keepdims=True))
    smalls = np.stack(
        [_turned(wide if degrees in (0, 180) else tall, degrees, mirrored) for degrees, mirrored in VARIANTS]
    )
    dhashes = _bits((smalls[:, :, 1:] > smalls[:, :, :-1]).reshape(len(VARIANTS), 64))
    codes = [degrees + (MIRRORED if mirrored else 0) for degrees, mirrored in VARIANTS]
    return list(zip(codes, phashes, dhashes, strict=True))
