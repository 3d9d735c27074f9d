"""The CPU path of the clip backend: its vision tower exported to ONNX and dynamically quantised to int8.

Made once per model under `<data_dir>/cache/clip-onnx/`, checked against fp32 torch (cosine logged), then run by
onnxruntime on the CPU; a copy that drifts too far is refused and torch fp32 is used instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from daemon.ml.preprocess import Preprocess

log = logging.getLogger("image_engine.ml")

MIN_COSINE = 0.98  # below this (worst of the check images) the int8 copy is not used
CHECK_IMAGES = 8
OPSET = 17


class OnnxVision:
    """An onnxruntime session of the exported vision tower: float32 NCHW in, image embeddings out."""

    def __init__(self, path: Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.providers = self.session.get_providers()
        self.input = self.session.get_inputs()[0].name

    def run(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(pixels, dtype=np.float32)})[0]


def export_vision(model: Any, image_size: int, path: Path) -> None:
    """torch.onnx.export of get_image_features (fp32, CPU), batch dimension dynamic."""
    import torch

    class VisionTower(torch.nn.Module):
        def __init__(self, clip: Any):
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            output = self.clip.get_image_features(pixel_values=pixel_values)
            return output.pooler_output if hasattr(output, "pooler_output") else output

    tower = VisionTower(model).eval()
    sample = torch.zeros(2, 3, image_size, image_size, dtype=torch.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer and legacy-exporter warnings: the graph is checked numerically
        torch.onnx.export(
            tower,
            (sample,),
            str(path),
            input_names=["pixel_values"],
            output_names=["image_embeds"],
            dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def quantise(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (MatMul/Gemm), per channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs per-tensor INFO and a pre-processing hint on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


def check_images(size: int, count: int = CHECK_IMAGES) -> np.ndarray:
    """Deterministic photo-like test inputs (smooth gradients, blobs and noise), uint8 NCHW."""
    rng = np.random.default_rng(1234)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = []
    for index in range(count):
        phase = rng.uniform(0, 2 * np.pi, 3)
        frequency = rng.uniform(1, 6, 3)
        channels = [127 + 100 * np.sin(2 * np.pi * frequency[c] * (x * (c + 1) + y) + phase[c]) for c in range(3)]
        image = np.stack(channels) + rng.normal(0, 12 + 4 * index, (3, size, size))
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(images)


def torch_embeddings(model: Any, pixels: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        output = model.get_image_features(pixel_values=torch.from_numpy(pixels))
        return (output.pooler_output if hasattr(output, "pooler_output") else output).float().numpy()


def cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    left = left / np.linalg.norm(left, axis=1, keepdims=True)
    right = right / np.linalg.norm(right, axis=1, keepdims=True)
    return (left * right).sum(axis=1)


def build(model: Any, preprocess: Preprocess, folder: Path) -> dict[str, Any]:
    """Export, quantise and check; leaves vision.int8.onnx and check.json in `folder`."""
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "vision.fp32.onnx.tmp", folder / "vision.int8.onnx.tmp"
    try:
        export_vision(model, preprocess.size, fp32)
        quantise(fp32, int8)
        pixels = preprocess.normalise_numpy(check_images(preprocess.size))
        reference = torch_embeddings(model, pixels)
        similarity = cosines(reference, OnnxVision(int8).run(pixels))
        check = {
            "cosine_min": round(float(similarity.min()), 5),
            "cosine_mean": round(float(similarity.mean()), 5),
            "accepted": bool(similarity.min() >= MIN_COSINE),
            "images": len(similarity),
        }
        os.replace(int8, folder / "vision.int8.onnx")
        (folder / "check.json").write_text(json.dumps(check), encoding="utf-8")
    finally:
        for leftover in (fp32, int8, Path(str(fp32) + ".data")):
            leftover.unlink(missing_ok=True)
    check["ms"] = round(1000 * (time.monotonic() - started))
    return check


def int8_vision(model: Any, preprocess: Preprocess, cache_dir: Path, identity: str) -> OnnxVision | None:
    """The int8 session for this model (built on first use), or None when it cannot be made or drifts too far."""
    folder = cache_dir / "clip-onnx" / hashlib.sha256(f"{identity};{preprocess.size}".encode()).hexdigest()[:20]
    try:
        check_file = folder / "check.json"
        if check_file.is_file() and (folder / "vision.int8.onnx").is_file():
            check = json.loads(check_file.read_text(encoding="utf-8"))
        else:
            log.info("building the int8 ONNX vision model", extra={"event": "clip_onnx_build", "detail": str(folder)})
            check = build(model, preprocess, folder)
        detail = f"cosine vs fp32 min {check['cosine_min']} mean {check['cosine_mean']} on {check['images']} images"
        if not check["accepted"]:
            log.warning(
                "int8 ONNX vision model drifts from fp32: using torch fp32",
                extra={"event": "clip_onnx_rejected", "detail": detail},
            )
            return None
        vision = OnnxVision(folder / "vision.int8.onnx")
        log.info(
            "int8 ONNX vision model in use",
            extra={"event": "clip_onnx_ready", "detail": f"{detail}; providers {vision.providers}"},
        )
        return vision
    except Exception as exc:  # noqa: BLE001 - any export/quantise/runtime failure falls back to torch, logged
        log.warning(
            "int8 ONNX vision model unavailable: using torch fp32",
            extra={"event": "clip_onnx_failed", "error": f"{type(exc).__name__}: {exc}", "detail": str(folder)},
        )
        return None
