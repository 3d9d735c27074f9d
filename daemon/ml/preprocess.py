"""Model input from the reduced RGB images the probe stage made (never a second decode of the file).

numpy/Pillow only: centre crops and square pads at the model's input size, stacked as uint8 NHWC arrays.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# The usual ImageNet evaluation crop: resize the shorter side to size / 0.875, then take the centre square.
CROP_FRACTION = 0.875


def centre_crop(image: Image.Image, size: int, crop_fraction: float = CROP_FRACTION) -> Image.Image:
    image = image.convert("RGB")
    width, height = image.size
    scale = size / crop_fraction / min(width, height)
    resized = image.resize(
        (max(size, round(width * scale)), max(size, round(height * scale))), Image.Resampling.BILINEAR
    )
    left = (resized.width - size) // 2
    top = (resized.height - size) // 2
    return resized.crop((left, top, left + size, top + size))


def pad_square(image: Image.Image, size: int, fill: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Whole image, letter-boxed onto a square (the WD14 / JoyTag taggers expect this)."""
    image = image.convert("RGB")
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas.resize((size, size), Image.Resampling.BICUBIC)


def stack(images: list[Image.Image]) -> np.ndarray:
    """uint8 array (N, H, W, 3)."""
    return np.stack([np.asarray(image, dtype=np.uint8) for image in images])


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
