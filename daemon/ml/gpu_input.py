"""Model input on the GPU: JPEG decode there (nvJPEG through torchvision, batched), resize and normalise there in fp16,
and a loader that prepares the next batches on a thread (pinned memory) while the model runs on this one.

Every step has a CPU way with the same output shape: no GPU, no torchvision (it is optional: PyPI's torchvision does
not work beside the pinned CPU torch), or a file nvJPEG refuses (progressive, CMYK) -> Pillow's reduced decode.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from daemon.pipeline.imaging import draft_box

JPEG_MAGIC = b"\xff\xd8"


def torchvision_io() -> ModuleType | None:
    """torchvision.io when it is installed and loads beside this torch; None otherwise (never raises)."""
    try:
        import torchvision.io  # noqa: PLC0415 - optional and heavy
    except Exception:  # noqa: BLE001 - ImportError, or an operator library built for another torch
        return None
    return torchvision.io


def decode_device(wanted: str) -> str:
    """Where JPEGs are decoded: "cuda" only when asked or "auto", CUDA is there and torchvision can decode there."""
    if wanted == "cpu":
        return "cpu"
    import torch

    if not torch.cuda.is_available() or torchvision_io() is None:
        return "cpu"
    return "cuda"


def decode_cpu(data: bytes, reduced: int) -> Any:
    """uint8 CHW tensor from Pillow, DCT-scaled like the probe stage (longest side >= `reduced`)."""
    import io

    import torch

    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG":
            image.draft("RGB", draft_box(image.size, reduced))
        rgb = image.convert("RGB")
    return torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1)


def decode_jpegs(datas: list[bytes], device: str, reduced: int = 384) -> list[Any]:
    """uint8 CHW tensors on `device`, one per file's bytes. On CUDA one batched nvJPEG call; a batch it refuses is
    decoded file by file, and a file it refuses goes through Pillow (then crosses to the GPU)."""
    import torch

    if device != "cuda":
        return [decode_cpu(data, reduced) for data in datas]
    io_module = torchvision_io()
    assert io_module is not None, "decode_device() chose cuda without torchvision"
    tensors = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in datas]
    try:
        return list(io_module.decode_jpeg(tensors, mode=io_module.ImageReadMode.RGB, device=device))
    except RuntimeError:
        decoded = []
        for data, tensor in zip(datas, tensors, strict=True):
            try:
                decoded.append(io_module.decode_jpeg(tensor, mode=io_module.ImageReadMode.RGB, device=device))
            except RuntimeError:
                decoded.append(decode_cpu(data, reduced).to(device, non_blocking=True))
        return decoded


def resize_crop(images: list[Any], size: int) -> Any:
    """uint8 NCHW batch: each image's shorter side resized to `size` (antialiased bilinear) and centre-cropped, on
    the device the images are on."""
    import torch
    import torch.nn.functional as functional

    batch = []
    for image in images:
        height, width = image.shape[-2:]
        scale = size / min(height, width)
        new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
        resized = functional.interpolate(
            image.unsqueeze(0).float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
        top, left = (new_h - size) // 2, (new_w - size) // 2
        batch.append(resized[:, :, top : top + size, left : left + size])
    return torch.cat(batch).round_().clamp_(0, 255).to(torch.uint8)


def normalise(batch: Any, mean: tuple[float, ...], std: tuple[float, ...], dtype: Any) -> Any:
    """(x / 255 - mean) / std in `dtype` (fp16 on the GPU), computed where the batch is."""
    import torch

    shape = (1, len(mean), 1, 1)
    mean_t = torch.tensor(mean, device=batch.device, dtype=torch.float32).view(shape) * 255.0
    std_t = torch.tensor(std, device=batch.device, dtype=torch.float32).view(shape) * 255.0
    return ((batch.float() - mean_t) / std_t).to(dtype)


def to_device(batch: np.ndarray, device: str) -> Any:
    """A uint8 NHWC numpy batch as NCHW on `device`: through pinned memory and a non-blocking copy on CUDA."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
    if device == "cuda":
        return tensor.contiguous().pin_memory().to(device, non_blocking=True)
    return tensor.contiguous()


@dataclass
class Batch:
    paths: list[Path]
    pixels: Any  # uint8 NCHW on the loader's device
    failed: list[tuple[Path, str]] = field(default_factory=list)  # files that could not be read or decoded, why


class PrefetchLoader:
    """Batches of `size` x `size` uint8 pixels on `device`, `depth` batches prepared ahead on a thread.

    The thread reads the files and decodes them (on the GPU when `decode` is "cuda"), so the caller's thread only
    runs the model. A file that cannot be read or decoded is reported in its batch's `failed`, never dropped silently.
    """

    def __init__(
        self, paths: list[Path], batch_size: int, size: int, device: str, decode: str = "auto", depth: int = 2
    ):
        self.paths = paths
        self.batch_size = max(1, batch_size)
        self.size = size
        self.device = device
        self.decode = decode_device(decode) if device == "cuda" else "cpu"
        self._queue: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[Batch]:
        worker = threading.Thread(target=self._fill, name="prefetch-loader", daemon=True)
        worker.start()
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    self._queue.get(timeout=0.05)

    def _fill(self) -> None:
        try:
            for start in range(0, len(self.paths), self.batch_size):
                if self._stop.is_set():
                    return
                self._queue.put(self._load(self.paths[start : start + self.batch_size]))
            self._queue.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._queue.put(exc)

    def _load(self, paths: list[Path]) -> Batch:
        import torch

        good, datas, failed = [], [], []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                failed.append((path, f"cannot read file: {exc.strerror or exc}"))
                continue
            if self.decode == "cuda" and not data.startswith(JPEG_MAGIC):
                failed.append((path, "not a JPEG (the GPU decoder reads JPEG only)"))
                continue
            good.append(path)
            datas.append(data)
        images, kept = [], []
        if self.decode == "cuda":
            images, kept = decode_jpegs(datas, "cuda"), list(good)
        else:
            for path, data in zip(good, datas, strict=True):
                try:
                    images.append(decode_cpu(data, self.size))
                    kept.append(path)
                except (OSError, SyntaxError, ValueError) as exc:
                    failed.append((path, f"cannot decode image: {exc}"))
        if not images:
            return Batch([], torch.empty((0, 3, self.size, self.size), dtype=torch.uint8), failed)
        pixels = resize_crop(images, self.size)
        if self.device == "cuda" and pixels.device.type != "cuda":
            pixels = pixels.pin_memory().to("cuda", non_blocking=True)
        return Batch(kept, pixels, failed)
