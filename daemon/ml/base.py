"""The contract every tagging backend (imagenet, clip, onnx) fulfils, and what it returns per image.

A backend turns reduced RGB images into raw labels with scores and an embedding; vocabulary policy lives elsewhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


@dataclass
class ImagePrediction:
    """One image's raw output, best first; keyword policy (synonyms, thresholds, exclude) is applied later."""

    labels: list[tuple[str, float]]
    embedding: np.ndarray | None = None  # L2-normalised float32, shape (dim,)
    categories: list[tuple[str, float]] = field(default_factory=list)  # zero-shot over the user's categories
    caption: str | None = None


class EmbeddingCache(Protocol):
    """Key -> bytes storage the store provides (text embeddings per model, vocabulary and templates)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...


class ModelMissing(Exception):
    """The model cannot be loaded here (weights absent, offline); the message says exactly what to do."""


@dataclass
class LabelInfo:
    """What a raw label means as photo keywords: plain keywords, a hierarchy path, a default category."""

    keywords: list[str]
    hierarchy: str | None = None
    category: str | None = None


class Backend(ABC):
    name: str = ""
    # True when a prediction's scores are one softmax over all labels (ImageNet classifiers): a keyword that several
    # labels share then gets their summed score (P(dog) = sum of the breeds); False for multi-label and zero-shot.
    exclusive: bool = False

    @property
    @abstractmethod
    def model_id(self) -> str:
        """What is recorded as the model in the store and in the file's provenance."""

    @abstractmethod
    def missing(self) -> str | None:
        """None when the model can be loaded now; else the reason and the fix, without loading anything heavy."""

    @abstractmethod
    def load(self, device: str) -> str:
        """Load weights onto "cpu" or "cuda"; returns the device (or ORT provider) really used. Raises ModelMissing."""

    @abstractmethod
    def unload(self) -> None:
        """Free the model and any GPU memory it holds."""

    @abstractmethod
    def predict(self, images: list[Image.Image]) -> list[ImagePrediction]:
        """One prediction per reduced RGB image, in one batched forward pass where the model allows."""

    def describe(self, label: str) -> LabelInfo:
        """Map a raw label to keywords (imagenet: its shipped class mapping; clip: its vocabulary's groups)."""
        return LabelInfo([label])

    def embed_text(self, texts: list[str]) -> np.ndarray | None:
        """L2-normalised text embeddings, shape (len(texts), dim), for `image-engine search`; None if unsupported."""
        return None

    @property
    def supports_text(self) -> bool:
        """Whether `embed_text` is implemented, known without loading anything."""
        return type(self).embed_text is not Backend.embed_text

    def pick_device(self, wanted: str) -> str:
        """ "cpu" or "cuda" for `[tagging] device` ("auto": cuda when torch sees one); called just before load()."""
        from daemon.ml.devices import torch_device

        return torch_device(wanted)
