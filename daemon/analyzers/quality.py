"""The quality analyzer: a no-reference score 0..100 from focus (variance of the Laplacian), clipping and contrast.

numpy only, on probe's reduced copy (about 2 ms); README "Quality" says why this and not BRISQUE, and its limits.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from daemon.analyzers import Analyzer, Findings, Photo

MODEL = "focus-exposure-v1"
SIDE = 384  # the copy every score is measured on: Laplacian variance depends on scale, so it must be fixed
# log10 of the Laplacian variance mapped to 0..1: 10 (a smear) -> 0, 5000 (crisp fine detail everywhere) -> 1; wide
# on purpose, so that sharp frames of one burst still differ (the corpus's sharp photos span 500..6,600)
FOCUS_LOW, FOCUS_HIGH = math.log10(10.0), math.log10(5000.0)
CLIPPED_DARK, CLIPPED_BRIGHT = 4, 251  # grey levels counted as crushed shadows / blown highlights
FLAT_STD = 24.0  # below this grey-level spread the picture is flat (fog, a lens cap, a hazy scan)


def measure(image: Image.Image) -> dict[str, float]:
    """The parts of the score and the score: focus, exposure and contrast each 0..1, quality 0..100."""
    grey_image = image.convert("L")
    if max(grey_image.size) > SIDE:
        grey_image.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR)
    grey = np.asarray(grey_image, dtype=np.float32)
    if min(grey.shape) < 3:
        return {"quality": 0.0, "focus": 0.0, "exposure": 0.0, "contrast": 0.0, "sharpness": 0.0}
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    sharpness = float(laplacian.var())
    focus = _clip((math.log10(max(sharpness, 1e-3)) - FOCUS_LOW) / (FOCUS_HIGH - FOCUS_LOW))
    clipped = float((grey <= CLIPPED_DARK).mean() + (grey >= CLIPPED_BRIGHT).mean())
    exposure = 1.0 - _clip((clipped - 0.05) / 0.6)  # a little clipping (a lamp, a black border) is normal
    contrast = _clip(float(grey.std()) / FLAT_STD)
    # Focus decides most: a blurred frame is the one a user throws away; exposure and flatness scale it down.
    quality = 100.0 * focus * (0.7 + 0.3 * exposure) * (0.6 + 0.4 * contrast)
    return {
        "quality": round(quality, 1),
        "focus": round(focus, 3),
        "exposure": round(exposure, 3),
        "contrast": round(contrast, 3),
        "sharpness": round(sharpness, 1),
    }


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


class QualityAnalyzer(Analyzer):
    """No keyword of its own (the tagger's `blurry` fact says that much): the score, searchable and used by the
    duplicate keeper rule `best_quality` and by bursts (store/scores.py)."""

    name = "quality"
    model = MODEL
    heavy = False

    def analyze(self, photo: Photo) -> Findings:
        measured = measure(photo.reduced())
        return Findings(fields={**measured, "score": measured["quality"]})
