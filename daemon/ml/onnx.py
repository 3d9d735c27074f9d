"""The onnxruntime tagger: any `model.onnx` classifier or multi-label tagger with an ImageNet-style or WD14 labels file.

CUDA is preferred when there is a GPU; onnxruntime-gpu falls back to CPU silently, so the provider really used is logged.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.ml.base import Backend, ImagePrediction, LabelInfo, ModelMissing
from daemon.ml.labels import LabelSet, read_label_file
from daemon.ml.preprocess import centre_crop, l2_normalise, map_images, pad_square, stack

if TYPE_CHECKING:
    from PIL import Image

    from daemon.config import TaggingConfig

log = logging.getLogger("image_engine.ml")

LABEL_FILES = ("labels.txt", "Labels.txt", "selected_tags.csv", "tags.csv", "top_tags.txt")
LABELS_RETURNED = 25
POOLING_OPS = ("GlobalAveragePool", "ReduceMean", "Flatten")
# preset -> (channel order, mean, std in 0..255 units, square pad instead of centre crop)
PRESETS: dict[str, tuple[str, tuple[float, ...], tuple[float, ...], bool]] = {
    "imagenet": ("rgb", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375), False),
    "caffe": ("bgr", (104.0, 117.0, 123.0), (1.0, 1.0, 1.0), False),
    "wd14": ("bgr", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), True),
    "clip": ("rgb", (122.771, 116.746, 104.094), (68.501, 66.632, 70.323), False),
}


class OnnxBackend(Backend):
    name = "onnx"

    def __init__(self, config: TaggingConfig):
        self.model_path = Path(config.model).expanduser() if config.model else None
        self.labels_setting = Path(config.labels).expanduser() if config.labels else None
        self.preset_setting = config.onnx_preprocess
        self._session: Any = None
        self._labels: LabelSet | None = None
        self._input: Any = None
        self._layout = "nchw"
        self._size = (224, 224)
        self._dtype: Any = np.float32
        self._fixed_batch = False
        self._preset = "imagenet"
        self._embedding_output: str | None = None

    @property
    def model_id(self) -> str:
        return f"onnx:{self.model_path.name if self.model_path else '?'}"

    def labels_path(self) -> Path | None:
        if self.labels_setting is not None:
            return self.labels_setting
        if self.model_path is None:
            return None
        return next(
            (self.model_path.parent / name for name in LABEL_FILES if (self.model_path.parent / name).exists()), None
        )

    def missing(self) -> str | None:
        if self.model_path is None:
            return 'the onnx backend needs a model: set [tagging] model = "/path/to/model.onnx"'
        if importlib.util.find_spec("onnxruntime") is None:
            return "onnxruntime is not installed: run `pip install onnxruntime-gpu` (or `onnxruntime` without a GPU)"
        if not self.model_path.is_file():
            return f"ONNX model {self.model_path} not found: put the model there or fix [tagging] model"
        labels = self.labels_path()
        if labels is None:
            return (
                f"no labels file for {self.model_path}: set [tagging] labels, or put one of "
                f"{', '.join(LABEL_FILES)} beside the model"
            )
        if not labels.is_file():
            return f"labels file {labels} not found: put it there or fix [tagging] labels"
        return None

    def pick_device(self, wanted: str) -> str:
        if wanted == "cpu":
            return "cpu"
        if wanted == "cuda":
            return "cuda"
        import onnxruntime

        from daemon.ml.devices import nvidia_gpu_present

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers() and nvidia_gpu_present():
            return "cuda"
        return "cpu"

    def load(self, device: str) -> str:
        reason = self.missing()
        if reason:
            raise ModelMissing(reason)
        assert self.model_path is not None
        labels_path = self.labels_path()
        assert labels_path is not None
        try:
            labels = read_label_file(labels_path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelMissing(f"cannot read labels file {labels_path}: {exc}") from exc
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        providers: list[Any] = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
        model_bytes, embedding_output = self._with_embedding_output()
        try:
            session = onnxruntime.InferenceSession(model_bytes, options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors for bad files
            raise ModelMissing(f"cannot load ONNX model {self.model_path}: {exc}") from exc
        got = session.get_providers()[0]
        if device == "cuda" and got != "CUDAExecutionProvider":
            log.warning(
                "CUDA was asked for but onnxruntime runs on %s (a CPU-only onnxruntime, or CUDA/cuDNN libraries missing)",
                got,
                extra={"event": "onnx_cuda_unavailable"},
            )
        self._configure(session, labels, embedding_output)
        return got

    def _with_embedding_output(self) -> tuple[bytes, str | None]:
        """The model, with its last pooled feature map exposed as an extra output when the `onnx` package can do it."""
        assert self.model_path is not None
        if importlib.util.find_spec("onnx") is None:
            return self.model_path.read_bytes(), None
        import onnx

        try:
            model = onnx.load(str(self.model_path))
        except Exception:  # noqa: BLE001 - fall back to the file as it is; onnxruntime reports real problems
            return self.model_path.read_bytes(), None
        outputs = {output.name for output in model.graph.output}
        pooled = [node.output[0] for node in model.graph.node if node.op_type in POOLING_OPS and node.output]
        if not pooled or pooled[-1] in outputs:
            return model.SerializeToString(), None
        model.graph.output.append(onnx.ValueInfoProto(name=pooled[-1]))
        return model.SerializeToString(), pooled[-1]

    def _configure(self, session: Any, labels: LabelSet, embedding_output: str | None) -> None:
        model_input = session.get_inputs()[0]
        shape = list(model_input.shape)
        if len(shape) != 4:
            raise ModelMissing(f"{self.model_path}: expected an image input (N, C, H, W) or (N, H, W, C), got {shape}")
        self._layout = "nhwc" if shape[-1] == 3 and shape[1] != 3 else "nchw"
        height, width = (shape[1], shape[2]) if self._layout == "nhwc" else (shape[2], shape[3])
        self._size = (height if isinstance(height, int) else 224, width if isinstance(width, int) else 224)
        self._dtype = np.float16 if model_input.type == "tensor(float16)" else np.float32
        self._fixed_batch = isinstance(shape[0], int)
        scores = session.get_outputs()[0]
        count = int(np.prod([d for d in scores.shape[1:] if isinstance(d, int)] or [0]))
        if count and count != len(labels.names):
            raise ModelMissing(
                f"{self.model_path} gives {count} scores but the labels file has {len(labels.names)} names"
            )
        preset = self.preset_setting
        if preset == "auto":
            producer = (session.get_modelmeta().producer_name or "").lower()
            preset = "wd14" if labels.multi_label else "caffe" if "caffe" in producer else "imagenet"
        self._preset = preset
        self._session, self._labels, self._input = session, labels, model_input
        self._embedding_output = embedding_output
        log.info(
            "onnx model ready",
            extra={
                "event": "onnx_model",
                "detail": f"input={shape} {model_input.type} layout={self._layout} preprocess={preset} "
                f"labels={len(labels.names)} multi_label={labels.multi_label} embedding={embedding_output}",
            },
        )

    @property
    def exclusive(self) -> bool:  # type: ignore[override]
        return self._labels is not None and not self._labels.multi_label

    def unload(self) -> None:
        self._session = None

    def predict(self, images: list[Image.Image]) -> list[ImagePrediction]:
        if self._session is None or self._labels is None:
            raise RuntimeError("predict() before load()")
        order, mean, std, pad = PRESETS[self._preset]
        height, width = self._size
        prepared = map_images(lambda image: pad_square(image, height) if pad else centre_crop(image, height), images)
        if width != height:
            prepared = [image.resize((width, height)) for image in prepared]
        batch = stack(prepared).astype(np.float32)
        if order == "bgr":
            batch = batch[..., ::-1]
            mean, std = mean[::-1], std[::-1]
        batch = (batch - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        if self._layout == "nchw":
            batch = batch.transpose(0, 3, 1, 2)
        batch = np.ascontiguousarray(batch, dtype=self._dtype)
        wanted = [self._session.get_outputs()[0].name] + ([self._embedding_output] if self._embedding_output else [])
        chunks = [batch[i : i + 1] for i in range(len(batch))] if self._fixed_batch else [batch]
        score_parts, feature_parts = [], []
        for chunk in chunks:
            outputs = self._session.run(wanted, {self._input.name: chunk})
            score_parts.append(np.asarray(outputs[0], dtype=np.float32).reshape(len(chunk), -1))
            if self._embedding_output:
                feature_parts.append(np.asarray(outputs[1], dtype=np.float32).reshape(len(chunk), -1))
        scores = self._probabilities(np.concatenate(score_parts))
        features = l2_normalise(np.concatenate(feature_parts) if feature_parts else scores)
        names = self._labels.names
        predictions = []
        for row, feature in zip(scores, features, strict=True):
            top = np.argsort(-row)[:LABELS_RETURNED]
            predictions.append(ImagePrediction(labels=[(names[i], float(row[i])) for i in top], embedding=feature))
        return predictions

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Models differ in whether they end with softmax/sigmoid: apply it only when the outputs are not scores yet."""
        assert self._labels is not None
        in_unit_range = raw.min() >= 0.0 and raw.max() <= 1.0
        if self._labels.multi_label:
            return raw if in_unit_range else 1.0 / (1.0 + np.exp(-raw))
        if in_unit_range and np.allclose(raw.sum(axis=1), 1.0, atol=0.02):
            return raw
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def describe(self, label: str) -> LabelInfo:
        return self._labels.describe(label) if self._labels is not None else LabelInfo([label])
