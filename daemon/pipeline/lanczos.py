"""Pillow's LANCZOS resize of an 8-bit greyscale image, bit for bit, as two small matrix products.

Why: Pillow rebuilds its filter on every call and loops tap by tap; the perceptual hashes resize every photo to 32x32
and 9x8, and that cost more than the hashing itself. Here the coefficients are Pillow's own (the same double
arithmetic, rounded to the same 22-bit integers), cached per size, and each pass is a few float64 matrix products: every
product and partial sum is an integer below 2**53, so the sums are exact in any order; the rounding and clipping are
Pillow's (src/libImaging/Resample.c: precompute_coeffs, normalize_coeffs_8bpc, clip8). Which pass goes first depends
on the Pillow version (13 runs the vertical one first when the height shrinks much more than the width), so the order
for each size is the one that reproduces Pillow's own resize of a noise image; a size where neither order does, or
where the noise cannot tell them apart, is left to Pillow.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

PRECISION_BITS = 32 - 8 - 2
HALF = float(1 << (PRECISION_BITS - 1))
SCALE = float(1 << PRECISION_BITS)
SUPPORT = 3.0
ONE_THREAD_PRODUCT = 65536 * 4  # OpenBLAS runs a product of fewer multiply-adds than this on one thread
# Planning a size (its coefficients in Python, its pass order from Pillow) costs ~2.5 ms: a size is planned once it has
# been met this often, so a library of odd sizes (crops, screenshots) keeps Pillow's cost rather than paying that.
PLAN_AFTER = 8
_seen: dict[tuple[int, int, int, int], int] = {}


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3)
    return 0.0


def weights(in_size: int, out_size: int) -> np.ndarray:
    """The (in_size, out_size) matrix of Pillow's fixed-point coefficients for one axis, as float64."""
    matrix = np.zeros((in_size, out_size))
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = SUPPORT * filterscale
    inverse = 1.0 / filterscale
    for out in range(out_size):
        center = (out + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        count = min(int(center + support + 0.5), in_size) - first
        taps = [_lanczos((x + first - center + 0.5) * inverse) for x in range(count)]
        total = 0.0
        for tap in taps:
            total += tap
        for x, tap in enumerate(taps):
            value = tap / total if total != 0.0 else tap
            matrix[first + x, out] = int(-0.5 + value * SCALE) if value < 0 else int(0.5 + value * SCALE)
    matrix.setflags(write=False)
    return matrix


@lru_cache(maxsize=256)
def bands(in_size: int, out_size: int, other_size: int) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """`weights` cut into as few blocks of outputs as keep each product (other_size x inputs x outputs) under the size
    where OpenBLAS starts threads (on a busy machine threads made one resize cost 20 times more CPU): (inputs,
    outputs, block), the block holding only the inputs its outputs reach."""
    matrix = weights(in_size, out_size)
    for pieces in range(1, out_size + 1):
        width = -(-out_size // pieces)
        blocks = []
        for start in range(0, out_size, width):
            outputs = slice(start, min(start + width, out_size))
            used = np.flatnonzero(matrix[:, outputs].any(axis=1))
            inputs = slice(int(used[0]), int(used[-1]) + 1) if used.size else slice(0, 0)
            block = np.ascontiguousarray(matrix[inputs, outputs])
            block.setflags(write=False)
            blocks.append((inputs, outputs, block))
        if max(other_size * block.size for _, _, block in blocks) < ONE_THREAD_PRODUCT:
            break
    return tuple(blocks)


def _settle(sums: np.ndarray) -> np.ndarray:
    """clip8, in place: add the rounding half, shift down by PRECISION_BITS (a floor), clip to 0..255; float64."""
    sums += HALF
    sums *= 1.0 / SCALE  # a power of two: exact, as the shift is
    np.floor(sums, out=sums)
    np.minimum(sums, 255.0, out=sums)
    return np.maximum(sums, 0.0, out=sums)


def _horizontal(pixels: np.ndarray, out_width: int) -> np.ndarray:
    sums = np.empty((pixels.shape[0], out_width))
    for inputs, outputs, block in bands(pixels.shape[1], out_width, pixels.shape[0]):
        np.matmul(pixels[:, inputs], block, out=sums[:, outputs])
    return _settle(sums)


def _vertical(pixels: np.ndarray, out_height: int) -> np.ndarray:
    sums = np.empty((out_height, pixels.shape[1]))
    for inputs, outputs, block in bands(pixels.shape[0], out_height, pixels.shape[1]):
        np.matmul(block.T, pixels[inputs, :], out=sums[outputs, :])
    return _settle(sums)


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`pixels` (height, width; uint8) resized to `size` (width, height) exactly as `Image.resize(size, LANCZOS)`
    does for an "L" image; float64 holding the integers 0..255."""
    height, width = pixels.shape
    key = (width, height, *size)
    seen = _seen.get(key, 0)
    order = pass_order(*key) if seen >= PLAN_AFTER else None
    if seen <= PLAN_AFTER:
        if len(_seen) > 10_000:
            _seen.clear()
        _seen[key] = seen + 1
    if order is None:
        resized = Image.fromarray(pixels, "L").resize(size, Image.Resampling.LANCZOS)
        return np.asarray(resized).astype(np.float64)
    return passes(pixels.astype(np.float64), size, order)


def passes(pixels: np.ndarray, size: tuple[int, int], order: str) -> np.ndarray:
    """The two passes in `order` ("hv": horizontal first); a pass whose size does not change is skipped, as Pillow
    does."""
    out_width, out_height = size
    for axis in order:
        height, width = pixels.shape
        if axis == "h" and out_width != width:
            pixels = _horizontal(pixels, out_width)
        elif axis == "v" and out_height != height:
            pixels = _vertical(pixels, out_height)
    return pixels


@lru_cache(maxsize=256)
def pass_order(width: int, height: int, out_width: int, out_height: int) -> str | None:
    """ "hv" or "vh": the order in which this Pillow resizes (width, height) to (out_width, out_height), or None when
    Pillow must do it itself (neither order reproduces it, or two noise images cannot tell the orders apart)."""
    if (width, height) == (out_width, out_height):
        return None
    if width == out_width or height == out_height:
        return "hv"  # one pass only: no order to find
    generator = np.random.default_rng(width * 100_003 + height)
    matching = {"hv", "vh"}
    for probe in (generator.integers(0, 256, (height, width)), generator.integers(0, 2, (height, width)) * 255):
        probe = probe.astype(np.uint8)
        expected = np.asarray(Image.fromarray(probe, "L").resize((out_width, out_height), Image.Resampling.LANCZOS))
        matching = {
            order
            for order in matching
            if np.array_equal(passes(probe.astype(np.float64), (out_width, out_height), order), expected)
        }
        if len(matching) < 2:
            break
    return matching.pop() if len(matching) == 1 else None
