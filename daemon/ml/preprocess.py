"""Model input from the reduced RGB images the probe stage made (never a second decode of the file).

numpy/Pillow only (no torchvision): ImageNet crops and square pads, and the CLIP-style `Preprocess` a model folder's
preprocessor_config.json describes; normalisation happens on the model's device, in its dtype.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# The usual ImageNet evaluation crop: resize the shorter side to size / 0.875, then take the centre square.
CROP_FRACTION = 0.875


def centre_crop(image: Image.Image, size: int, crop_fraction: float = CROP_FRACTION) -> Image.Image:
    image = image.convert("RGB")
    width, height = image.size
    scale = size / crop_fraction / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    left, top = (new_width - size) // 2, (new_height - size) // 2
    # Resample only the region that survives the crop (the same pixels, less work).
    box = (left / scale, top / scale, (left + size) / scale, (top + size) / scale)
    return image.resize((size, size), Image.Resampling.BILINEAR, box=box)


def pad_square(image: Image.Image, size: int, fill: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Whole image, letter-boxed onto a square (the WD14 / JoyTag taggers expect this)."""
    image = image.convert("RGB")
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas.resize((size, size), Image.Resampling.BICUBIC)


_POOL: ThreadPoolExecutor | None = None


def map_images(function: Callable[[Image.Image], object], images: list[Image.Image]) -> list:
    """`function` over a batch, on a small thread pool when the machine has cores to spare (Pillow and numpy
    release the GIL): on a GPU the per-image resizing, not the model, limits throughput."""
    global _POOL
    workers = min(8, (os.cpu_count() or 1) - 1)
    if workers < 2 or len(images) < 8:
        return [function(image) for image in images]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(workers, thread_name_prefix="preprocess")
    return list(_POOL.map(function, images))


def stack(images: list[Image.Image]) -> np.ndarray:
    """uint8 array (N, H, W, 3)."""
    return np.stack([np.asarray(image, dtype=np.uint8) for image in images])


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_RESAMPLE = {0: Image.Resampling.NEAREST, 1: Image.Resampling.LANCZOS, 2: Image.Resampling.BILINEAR}


@dataclass(frozen=True)
class Preprocess:
    """How one model wants its pixels: "shortest" = resize shortest side then center crop; "squash" = resize to size."""

    size: int
    mode: str = "shortest"
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD
    resample: Image.Resampling = Image.Resampling.BICUBIC

    @classmethod
    def for_model(cls, folder: Path, image_size: int) -> Preprocess:
        """From `folder/preprocessor_config.json` if present; the crop is always the model's own `image_size`."""
        path = folder / "preprocessor_config.json"
        if not path.is_file():
            return cls(image_size)
        raw = json.loads(path.read_text(encoding="utf-8"))
        size = raw.get("size") or {}
        mode = "squash" if isinstance(size, dict) and "height" in size and "shortest_edge" not in size else "shortest"
        if mode == "shortest" and raw.get("do_center_crop") is False:
            mode = "squash"
        return cls(
            image_size,
            mode,
            tuple(raw.get("image_mean") or OPENAI_CLIP_MEAN),  # type: ignore[arg-type]
            tuple(raw.get("image_std") or OPENAI_CLIP_STD),  # type: ignore[arg-type]
            _RESAMPLE.get(raw.get("resample"), Image.Resampling.BICUBIC),
        )

    def pixels(self, image: Image.Image) -> np.ndarray:
        """One image as uint8 HWC of size x size."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        target = self.size
        if self.mode == "squash":
            image = image.resize((target, target), self.resample)
        else:
            width, height = image.size
            scale = target / min(width, height)
            new_w, new_h = max(target, round(width * scale)), max(target, round(height * scale))
            left, top = (new_w - target) // 2, (new_h - target) // 2
            # Resize only the region that survives the crop: same pixels, less work on panoramas.
            box = (left / scale, top / scale, (left + target) / scale, (top + target) / scale)
            image = image.resize((target, target), self.resample, box=box, reducing_gap=2.0)
        return np.asarray(image, dtype=np.uint8)

    def batch(self, images: list[Image.Image]) -> np.ndarray:
        """uint8 NCHW batch."""
        stacked = np.stack(map_images(self.pixels, images))
        return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2))

    def normalise_numpy(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW, ready for onnxruntime."""
        mean = np.asarray(self.mean, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
        std = np.asarray(self.std, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
        return (batch.astype(np.float32) - mean) / std

    def normalise_torch(self, batch: np.ndarray, device: str, dtype: object) -> object:
        """A torch tensor on `device` in `dtype`; the uint8 batch crosses to the GPU, not four times its size."""
        import torch

        tensor = torch.from_numpy(batch).to(device, non_blocking=True)
        mean = torch.tensor(self.mean, device=device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, device=device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        return ((tensor.float() - mean) / std).to(dtype)
