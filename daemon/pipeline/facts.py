"""Cheap facts about a photo from its reduced copy, for every backend: sharpness, exposure, colours, orientation.

numpy and Pillow only; with `[tagging] fact_keywords` some become keywords (blurry, dark, overexposed, portrait format, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

# Variance of the 4-neighbour Laplacian on a greyscale copy at most SHARPNESS_SIDE px long; below BLUR_THRESHOLD
# the photo counts as blurry (calibrated on the corpus: the motion-blurred clock scores far below sharp photos).
SHARPNESS_SIDE = 384
BLUR_THRESHOLD = 40.0
DARK_MEAN, DARK_BRIGHT_SHARE = 55.0, 0.05
BRIGHT_LEVEL, OVEREXPOSED_SHARE = 250, 0.25
SQUARE_TOLERANCE = 0.03
COLOUR_SIDE = 48
COLOUR_MIN_SHARE = 0.05

FACT_HIERARCHY = {
    "blurry": "Photo|Quality|Blurry",
    "dark": "Photo|Exposure|Dark",
    "overexposed": "Photo|Exposure|Overexposed",
    "portrait format": "Photo|Orientation|Portrait Format",
    "landscape format": "Photo|Orientation|Landscape Format",
    "square format": "Photo|Orientation|Square Format",
}


def image_facts(image: Image.Image) -> dict[str, Any]:
    rgb = image.convert("RGB")
    sharpness = _sharpness(rgb)
    grey = np.asarray(rgb.convert("L"), dtype=np.float32)
    return {
        "sharpness": round(sharpness, 1),
        "blurry": sharpness < BLUR_THRESHOLD,
        "exposure": _exposure(grey),
        "colours": dominant_colours(rgb),
        "orientation": _orientation(rgb.size),
    }


def fact_keywords(facts: dict[str, Any], include_format: bool = True) -> list[str]:
    """The facts worth a keyword: blurry, dark / overexposed, and (if asked) the orientation format."""
    words = ["blurry"] if facts["blurry"] else []
    if facts["exposure"] != "normal":
        words.append(facts["exposure"])
    if include_format:  # "landscape" alone would read as scenery (and is a CLIP concept): the keyword names the format
        words.append(f"{facts['orientation']} format")
    return words


def _sharpness(image: Image.Image) -> float:
    grey_image = image.convert("L")
    if max(grey_image.size) > SHARPNESS_SIDE:
        grey_image.thumbnail((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BILINEAR)
    grey = np.asarray(grey_image, dtype=np.float32)
    if min(grey.shape) < 3:
        return 0.0
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(laplacian.var())


def _exposure(grey: np.ndarray) -> str:
    if grey.mean() < DARK_MEAN and (grey > 128).mean() < DARK_BRIGHT_SHARE:
        return "dark"
    if (grey >= BRIGHT_LEVEL).mean() > OVEREXPOSED_SHARE:
        return "overexposed"
    return "normal"


def _orientation(size: tuple[int, int]) -> str:
    width, height = size
    if abs(width - height) <= SQUARE_TOLERANCE * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def dominant_colours(image: Image.Image, count: int = 3) -> list[str]:
    """Up to `count` colour names covering at least 5 % of the picture each, most common first."""
    small = image.resize((COLOUR_SIDE, COLOUR_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32).reshape(-1, 3)
    hue, saturation, value = hsv[:, 0] * 360 / 255, hsv[:, 1] / 255, hsv[:, 2] / 255
    names = np.full(len(hsv), "", dtype=object)
    names[:] = _hue_names(hue)
    brownish = (value < 0.6) & (saturation > 0.25) & ((hue < 45) | (hue >= 345))
    names[brownish] = "brown"
    beige = (value >= 0.6) & (saturation <= 0.45) & ((hue < 50) | (hue >= 345))
    names[beige] = "beige"
    grey = saturation < 0.18
    names[grey] = np.where(value[grey] > 0.85, "white", "grey")
    names[value < 0.18] = "black"
    labels, counts = np.unique(names.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [str(labels[i]) for i in order[:count] if counts[i] >= COLOUR_MIN_SHARE * len(hsv)]


def _hue_names(hue: np.ndarray) -> np.ndarray:
    bounds = [(15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (195, "cyan"), (255, "blue")]
    bounds += [(290, "purple"), (345, "pink"), (361, "red")]
    names = np.full(len(hue), "red", dtype=object)
    lower = 0.0
    for upper, name in bounds:
        names[(hue >= lower) & (hue < upper)] = name
        lower = upper
    return names
