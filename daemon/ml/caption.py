"""One-sentence captions from a BLIP-style image-to-text model (`[tagging] caption = true`, clip backend only).

Loaded lazily with the clip model; its preprocessing is our own (transformers' image processors need torchvision).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from daemon.ml import hub
from daemon.ml.base import ModelMissing
from daemon.ml.preprocess import Preprocess

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("image_engine.ml")

MAX_NEW_TOKENS = 30


class Captioner:
    def __init__(self, model_name: str):
        self.model_name = model_name
        self._model: Any = None
        self._tokenizer: Any = None
        self._preprocess: Preprocess | None = None
        self._device = "cpu"
        self._dtype: Any = None

    def missing(self) -> str | None:
        return hub.missing_reason(self.model_name, "[tagging] caption_model", "caption model")

    def load(self, device: str) -> None:
        from transformers import AutoModelForImageTextToText

        reason = self.missing()
        if reason:
            raise ModelMissing(reason)
        started = time.monotonic()
        model, tokenizer, folder = hub.load_pretrained(
            AutoModelForImageTextToText, self.model_name, device, "caption model", "[tagging] caption_model"
        )
        vision = getattr(model.config, "vision_config", None)
        if vision is None or not hasattr(model, "generate"):
            raise ModelMissing(f"{self.model_name} is not an image-to-text model ([tagging] caption_model)")
        self._model, self._tokenizer, self._device, self._dtype = model, tokenizer, device, model.dtype
        self._preprocess = Preprocess.for_model(folder, int(vision.image_size))
        log.info(
            "caption model loaded",
            extra={
                "event": "model_loaded",
                "detail": f"{self.model_name} on {device}",
                "ms": round(1000 * (time.monotonic() - started)),
            },
        )

    def unload(self) -> None:
        self._model = self._tokenizer = self._preprocess = None

    def caption(self, images: list[Image.Image]) -> list[str | None]:
        """One sentence per image (None where the model produced no words)."""
        if self._model is None or self._preprocess is None:
            raise RuntimeError("the caption model is not loaded")
        import torch

        pixels = self._preprocess.batch(images)
        with torch.inference_mode():
            tensor = self._preprocess.normalise_torch(pixels, self._device, self._dtype)
            tokens = self._model.generate(pixel_values=tensor, max_new_tokens=MAX_NEW_TOKENS)
        return [sentence(text) for text in self._tokenizer.batch_decode(tokens, skip_special_tokens=True)]


def sentence(text: str) -> str | None:
    """Whitespace collapsed, first letter upper-case, ending with a full stop."""
    words = " ".join(text.split())
    if not words:
        return None
    words = words[0].upper() + words[1:]
    return words if words[-1] in ".!?" else words + "."
