"""Is one picture a region of another (a crop of it, or a screenshot showing it)? A check on small grey copies.

The smaller-view image is scaled over a range of sizes and slid over the other by FFT; the best normalised
cross-correlation says how well its pixels match that region. Two shots of one scene (a stereo pair, a moved camera)
do not match pixel for pixel over the whole region; a crop or a screenshot does. Coarse to fine: every scale on
64 px copies, then the best scales again on 128 px copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

COARSE, FINE = 64, 128  # the outer image's longer side for the two passes
MIN_SHARE, STEP = 0.35, 1.06  # the inner's size as a share of the outer's, from 1 down in geometric steps
MIN_TEMPLATE = 12  # pixels (at the coarse side): smaller regions say too little
REFINE = 2  # best coarse scales looked at again on the finer copies, in quarter steps around each
MATCH = 0.92  # normalised cross-correlation a region must reach (measured: crops 0.96+, stereo pair below 0.85)
COARSE_MARGIN = 0.03  # a direction whose best coarse score stays this far below MATCH is not refined


@dataclass(frozen=True)
class Region:
    """Where the inner image lies in the outer: its share of the outer's size, and how well it matches."""

    share: float
    score: float
    inner_is_first: bool  # the first image given to `find_region` is the inner one (a crop of the second)


class Outer:
    """A grey copy of the outer image with what every template slid over it needs: its spectrum and sums."""

    def __init__(self, image: Image.Image, side: int):
        scale = side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        self.pixels = np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
        self.shape = self.pixels.shape
        self.padded = (2 * self.shape[0], 2 * self.shape[1])
        import scipy.fft  # ~1 s to import: at the first comparison, not at engine start

        self.spectrum = scipy.fft.rfft2(self.pixels, self.padded)
        self.sums = np.pad(self.pixels, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        self.squares = np.pad(self.pixels**2, ((1, 0), (1, 0))).cumsum(0).cumsum(1)

    def best_match(self, template: np.ndarray) -> float:
        """Highest normalised cross-correlation of `template` over every placement inside the outer image."""
        th, tw = template.shape
        oh, ow = self.shape
        centred = template - template.mean()
        norm = float(np.sqrt((centred * centred).sum()))
        if norm < 1e-3 * centred.size:
            return 0.0  # a flat template matches anything: no evidence
        import scipy.fft

        spectrum = self.spectrum * np.conj(scipy.fft.rfft2(centred, self.padded))
        correlation = scipy.fft.irfft2(spectrum, self.padded)[: oh - th + 1, : ow - tw + 1]

        def window(table: np.ndarray) -> np.ndarray:
            return table[th:, tw:] - table[:-th, tw:] - table[th:, :-tw] + table[:-th, :-tw]

        sums = window(self.sums)
        variance = np.maximum(window(self.squares) - sums * sums / centred.size, 0.0)
        denominator = np.sqrt(variance) * norm
        scores = correlation / np.maximum(denominator, 1e-9)
        scores[denominator < 1e-6] = 0.0
        return float(scores.max())

    def template_size(self, inner: Image.Image, share: float) -> tuple[int, int] | None:
        """The inner image's size at `share` of the outer (by width, or by height where it is the taller)."""
        oh, ow = self.shape
        aspect = inner.height / inner.width
        width, height = ow * share, ow * share * aspect
        if height > oh:
            height, width = oh * share, oh * share / aspect
        width, height = round(width), round(height)
        if width > ow or height > oh or min(width, height) < MIN_TEMPLATE * max(self.shape) // COARSE:
            return None
        return width, height

    def score(self, inner: Image.Image, share: float) -> float:
        size = self.template_size(inner, share)
        if size is None:
            return 0.0
        return self.best_match(np.asarray(inner.resize(size, Image.Resampling.BILINEAR), dtype=np.float64))


def _shares() -> list[float]:
    shares, share = [], 1.0
    while share >= MIN_SHARE:
        shares.append(share)
        share /= STEP
    return shares


SHARES = _shares()


def _grey(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    if max(grey.size) > 2 * FINE:
        grey.thumbnail((2 * FINE, 2 * FINE), Image.Resampling.BILINEAR)
    return grey


def find_region(first: Image.Image, second: Image.Image) -> Region | None:
    """The region of one image that the other shows, if one is a crop or screenshot of the other (or a resize)."""
    greys = (_grey(first), _grey(second))
    best = Region(0.0, 0.0, True)
    for inner, outer_image, inner_is_first in ((greys[0], greys[1], True), (greys[1], greys[0], False)):
        coarse = Outer(outer_image, COARSE)
        scored = sorted(((coarse.score(inner, share), share) for share in SHARES), reverse=True)[:REFINE]
        if scored[0][0] < MATCH - COARSE_MARGIN:
            continue  # the blurrier coarse copies always scored higher than the fine ones (bench.dedup_regions)
        tried = [share for _, share in scored]
        fine = Outer(outer_image, FINE)
        for share in tried:
            for nearby in (share * STEP ** (quarter / 4) for quarter in (-2, -1, 0, 1, 2)):
                score = fine.score(inner, min(nearby, 1.0))
                if score > best.score:
                    best = Region(round(min(nearby, 1.0), 3), round(score, 4), inner_is_first)
    return best if best.score >= MATCH else None
