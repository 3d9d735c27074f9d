"""One model per engine: loaded lazily under a lock on the first batch, unloaded after `idle_unload_seconds` idle.

Runs batches with an adaptive size: a GPU out-of-memory halves the batch and retries; an idle service holds no model.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from daemon.ml.base import Backend, ImagePrediction, LabelInfo, ModelMissing
from daemon.ml.devices import imported_frameworks, is_out_of_memory, release_gpu_memory

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from daemon.config import TaggingConfig

log = logging.getLogger("image_engine.ml")

LOAD_FAILURE_HOLD_SECONDS = 30.0
GROW_AFTER_BATCHES = 20


# Input tensor plus activations of one image in an fp16 forward pass of a ViT-B/32-sized model, rounded up.
BYTES_PER_IMAGE_ON_GPU = 16 << 20


class GpuMemoryExhausted(Exception):
    """Even one image does not fit in the GPU memory free now (other programs use it): wait and try later."""


class ModelSession:
    def __init__(
        self, config: TaggingConfig, factory: Callable[[], Backend], clock: Callable[[], float] = time.monotonic
    ):
        self.config = config
        self._factory = factory
        self._clock = clock
        self._lock = threading.RLock()  # held while loading and predicting
        self._build_lock = threading.Lock()  # only for building the (cheap) backend object
        self._backend: Backend | None = None
        self._backend_error: str | None = None
        self._load_failure: tuple[float, str] | None = None
        self.device: str | None = None  # what load() really got ("cpu", "cuda:0 (...)", "CUDAExecutionProvider")
        self.batch_size = max(1, config.batch_size)
        self._good_batches = 0
        self.last_used = 0.0
        self.loads = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        return self.device is not None

    def backend(self) -> Backend:
        """The backend object (cheap to build, holds no weights); raises ModelMissing if it cannot exist here."""
        with self._build_lock:
            if self._backend is None:
                if self._backend_error is not None:
                    raise ModelMissing(self._backend_error)
                try:
                    self._backend = self._factory()
                except ModelMissing as exc:
                    self._backend_error = str(exc)
                    raise
            return self._backend

    def missing(self) -> str | None:
        """Why no batch can run now (model absent, or its last load failed moments ago), else None. Cheap."""
        if self.loaded:
            return None
        try:
            backend = self.backend()
        except ModelMissing as exc:
            return str(exc)
        reason = backend.missing()
        if reason:
            return reason
        if self._load_failure and self._clock() - self._load_failure[0] < LOAD_FAILURE_HOLD_SECONDS:
            return self._load_failure[1]
        return None

    def predict(self, images: list[Image.Image]) -> list[ImagePrediction]:
        """Batched inference at the current adaptive batch size; loads the model first if needed."""
        with self._lock:
            backend = self._ensure_loaded()
            predictions: list[ImagePrediction] = []
            start = 0
            cap = self._memory_cap()
            while start < len(images):
                size = min(self.batch_size, cap, len(images) - start)
                try:
                    predictions.extend(backend.predict(images[start : start + size]))
                except Exception as exc:
                    if not is_out_of_memory(exc):
                        raise
                    self._halve(size, exc)
                    continue
                start += size
                self._grow()
            self.last_used = self._clock()
            return predictions

    def _memory_cap(self) -> int:
        """On CUDA, `[gpu] memory_budget_mb` and the GPU's free memory bound the batch (daemon.gpu.monitor.batch_cap)."""
        if not (self.device or "").startswith(("cuda", "CUDA")):
            return self.batch_size
        from daemon.gpu import monitor as gpu

        cap = gpu.batch_cap(BYTES_PER_IMAGE_ON_GPU)
        return self.batch_size if cap is None else max(1, cap)

    def embed_text(self, texts: list[str]) -> np.ndarray | None:
        with self._lock:
            backend = self.backend()
            if not backend.supports_text:
                return None
            vectors = self._ensure_loaded().embed_text(texts)
            self.last_used = self._clock()
            return vectors

    def describe(self, label: str) -> LabelInfo:
        return self.backend().describe(label)

    def _ensure_loaded(self) -> Backend:
        backend = self.backend()
        if self.loaded:
            return backend
        reason = backend.missing()
        if reason:
            raise ModelMissing(reason)
        started = time.perf_counter()
        try:
            wanted = backend.pick_device(self.config.device)
            device = backend.load(wanted)
        except ModelMissing as exc:
            self._load_failure = (self._clock(), str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - a broken model file is the world's problem, not the photo's
            message = f"cannot load the {backend.name} model {backend.model_id}: {type(exc).__name__}: {exc}"
            self._load_failure = (self._clock(), message)
            log.exception("model load failed", extra={"event": "model_load_failed", "error": message})
            raise ModelMissing(message) from exc
        self._load_failure = None
        self.device = device
        self.loads += 1
        self.last_used = self._clock()
        log.info(
            "model loaded",
            extra={
                "event": "model_loaded",
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "detail": f"backend={backend.name} model={backend.model_id} asked={self.config.device}"
                f" -> {wanted} got={device} batch={self.batch_size}",
            },
        )
        self._start_ticker()
        return backend

    def _halve(self, size: int, exc: BaseException) -> None:
        release_gpu_memory()
        if size <= 1:
            raise GpuMemoryExhausted(
                f"the GPU has too little free memory even for one image ({exc}); other programs are using it"
            ) from exc
        self.batch_size = max(1, size // 2)
        self._good_batches = 0
        log.warning(
            "GPU out of memory: batch halved",
            extra={"event": "oom_batch_halved", "detail": f"{size} -> {self.batch_size}"},
        )

    def _grow(self) -> None:
        """After a run of good batches, try a bigger batch again (up to the configured size)."""
        if self.batch_size >= self.config.batch_size:
            return
        self._good_batches += 1
        if self._good_batches >= GROW_AFTER_BATCHES:
            self.batch_size = min(self.config.batch_size, self.batch_size * 2)
            self._good_batches = 0

    def unload(self, reason: str = "idle") -> bool:
        with self._lock:
            if not self.loaded or self._backend is None:
                return False
            self._backend.unload()
            self.device = None
            gc.collect()
            release_gpu_memory()
            log.info("model unloaded", extra={"event": "model_unloaded", "detail": reason})
            return True

    def check_idle(self) -> bool:
        """Unload when the model was not used for `idle_unload_seconds` (0 keeps it loaded); True if it unloaded."""
        idle = self.config.idle_unload_seconds
        if idle <= 0 or not self.loaded or self._clock() - self.last_used < idle:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # a batch is running: not idle
        try:
            if self._clock() - self.last_used < idle:
                return False
            return self.unload("idle")
        finally:
            self._lock.release()

    def _start_ticker(self) -> None:
        if self.config.idle_unload_seconds <= 0 or (self._ticker and self._ticker.is_alive()):
            return
        interval = min(5.0, max(0.2, self.config.idle_unload_seconds / 4))

        def tick() -> None:
            while not self._stop.wait(interval):
                if self.check_idle() or not self.loaded:
                    return

        self._ticker = threading.Thread(target=tick, name="model-idle", daemon=True)
        self._ticker.start()

    def info(self) -> dict[str, Any]:
        """What `image-engine models` shows."""
        backend_name, model_id, supports_text = self.config.backend, None, False
        try:
            backend = self.backend()
            backend_name, model_id, supports_text = backend.name, backend.model_id, backend.supports_text
        except ModelMissing:
            pass
        missing = self.missing()
        return {
            "backend": backend_name,
            "model": model_id,
            "present": missing is None,
            "missing": missing,
            "loaded": self.loaded,
            "device_setting": self.config.device,
            "device": self.device,
            "batch_size": self.batch_size,
            "idle_unload_seconds": self.config.idle_unload_seconds,
            "loads": self.loads,
            "text_search": supports_text,
            "imported": imported_frameworks(),
        }

    def close(self) -> None:
        self._stop.set()
        self.unload("shutdown")
