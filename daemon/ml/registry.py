"""Backends by name (`[tagging] backend`): each module is imported only when its backend is chosen.

Constructing a backend is cheap; weights are loaded later by the session, on the first batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from daemon.ml.base import Backend, EmbeddingCache, ModelMissing

if TYPE_CHECKING:
    from daemon.config import TaggingConfig

BACKENDS = ("imagenet", "onnx", "clip")


def build_backend(tagging: TaggingConfig, cache: EmbeddingCache, cache_dir: Path | None = None) -> Backend:
    """The configured backend; raises ModelMissing when it cannot exist in this installation.

    `cache_dir`: the data folder's cache, where derived models (clip's int8 ONNX copy) are kept."""
    if tagging.backend == "imagenet":
        from daemon.ml.imagenet import ImagenetBackend

        return ImagenetBackend(tagging)
    if tagging.backend == "onnx":
        from daemon.ml.onnx import OnnxBackend

        return OnnxBackend(tagging)
    if tagging.backend == "clip":
        try:
            from daemon.ml.clip import ClipBackend
        except ImportError as exc:
            raise ModelMissing(f"the clip backend is not available in this installation ({exc})") from exc
        return ClipBackend(tagging, cache, cache_dir=cache_dir)
    raise ModelMissing(f"unknown [tagging] backend {tagging.backend!r}: use one of {', '.join(BACKENDS)}")
