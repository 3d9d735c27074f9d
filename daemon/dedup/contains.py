"""Is one picture a region of another (a crop of it, or a screenshot showing it)? A check on small grey copies.

The smaller-view image is scaled over a range of sizes and slid over the other by FFT; the best normalised
cross-correlation says how well its pixels match that region. Two shots of one scene (a stereo pair, a moved camera)
do not match pixel for pixel over the whole region; a crop or a screenshot does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

SIDE = 128  # the outer image's longer side for the check
MIN_SHARE, MAX_SHARE, STEP = 0.35, 1.0, 1.03  # the inner's width as a share of the outer's, geometric steps
MIN_TEMPLATE = 24  # pixels: smaller regions say too little
MATCH = 0.92  # normalised cross-correlation a region must reach (measured: crops 0.97+, stereo pair below 0.85)


@dataclass(frozen=True)
class Region:
    """Where `inner` lies in `outer`: its share of the outer's width and height, and how well it matches."""

    share: float
    score: float
    inner_is_first: bool  # the first image given to `find_region` is the inner one (a crop of the second)


def _grey(image: Image.Image, side: int) -> np.ndarray:
    grey = image.convert("L")
    scale = side / max(grey.size)
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    return np.asarray(grey.resize(size, Image.Resampling.BILINEAR), dtype=np.float64)


def _grey_image(image: Image.Image, side: int) -> Image.Image:
    grey = image.convert("L")
    if max(grey.size) > side:
        grey.thumbnail((side, side), Image.Resampling.BILINEAR)
    return grey


def _best_match(outer: np.ndarray, template: np.ndarray) -> float:
    """Highest normalised cross-correlation of `template` over every placement inside `outer`."""
    th, tw = template.shape
    oh, ow = outer.shape
    t = template - template.mean()
    t_norm = np.sqrt((t * t).sum())
    if t_norm < 1e-6 * t.size:
        return 0.0  # a flat template matches anything: no evidence
    fh, fw = oh + th, ow + tw
    spectrum = np.fft.rfft2(outer, (fh, fw)) * np.conj(np.fft.rfft2(t, (fh, fw)))
    correlation = np.fft.irfft2(spectrum, (fh, fw))[: oh - th + 1, : ow - tw + 1]
    # Sums of the outer over each placement (integral images) give the local mean and energy.
    integral = np.pad(outer, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    squares = np.pad(outer * outer, ((1, 0), (1, 0))).cumsum(0).cumsum(1)

    def window(table: np.ndarray) -> np.ndarray:
        return table[th:, tw:] - table[:-th, tw:] - table[th:, :-tw] + table[:-th, :-tw]

    sums, energy = window(integral), window(squares)
    variance = np.maximum(energy - sums * sums / t.size, 0.0)
    denominator = np.sqrt(variance) * t_norm
    scores = np.where(denominator > 1e-9, correlation / np.maximum(denominator, 1e-9), 0.0)
    return float(scores.max())


def _inside(outer: np.ndarray, inner_image: Image.Image) -> tuple[float, float]:
    """(best score, share of the outer's width) of `inner_image` scaled to each share and slid over `outer`."""
    oh, ow = outer.shape
    aspect = inner_image.height / inner_image.width
    best = (0.0, 0.0)
    share = MAX_SHARE
    while share >= MIN_SHARE:
        width = round(ow * share)
        height = round(width * aspect)
        if height > oh:  # fits by height instead: the same share of the outer's height
            height = oh if share == MAX_SHARE else round(oh * share)
            width = round(height / aspect)
        if min(width, height) >= MIN_TEMPLATE and width <= ow and height <= oh:
            template = np.asarray(inner_image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float64)
            score = _best_match(outer, template)
            if score > best[0]:
                best = (score, share)
        share /= STEP
    return best


def find_region(first: Image.Image, second: Image.Image) -> Region | None:
    """The region of one image that the other shows, if one is a crop or screenshot of the other (or a resize)."""
    first, second = (_grey_image(image, 2 * SIDE) for image in (first, second))
    found = []
    for inner, outer, inner_is_first in ((first, second, True), (second, first, False)):
        score, share = _inside(_grey(outer, SIDE), inner)
        found.append(Region(round(share, 3), round(score, 4), inner_is_first))
    best = max(found, key=lambda region: region.score)
    return best if best.score >= MATCH else None
