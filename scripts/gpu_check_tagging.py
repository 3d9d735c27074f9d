"""GPU check of the tag stage's model session: device pick, fp16 on CUDA vs fp32 on CPU, OOM halving, idle unload.

Run where there is an NVIDIA GPU and the `ml` extra: python scripts/gpu_check_tagging.py [IMAGE_DIR]
(default: six photos of ../shared/corpus/labelled). Prints one JSON object; CI has no GPU, so nothing runs it there.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PICK = ("skimage_coffee.png", "felix_316.jpg", "felix_301.jpg", "african_elephants.jpg", "skimage_chelsea.png")
EVENTS: list[dict[str, Any]] = []


class Catch(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        EVENTS.append({"event": getattr(record, "event", None), "detail": getattr(record, "detail", None)})


def main() -> None:
    import torch

    from daemon.config import TaggingConfig
    from daemon.ml.registry import build_backend
    from daemon.ml.session import ModelSession
    from daemon.pipeline.imaging import reduce
    from daemon.pipeline.vocabulary import Vocabulary

    logging.getLogger("image_engine").setLevel("INFO")
    logging.getLogger("image_engine").addHandler(Catch())
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "corpus" / "labelled"
    paths = sorted(p for p in folder.iterdir() if len(sys.argv) > 1 or p.name in PICK)
    images = [reduce(Image.open(p).convert("RGB"), 384, 1) for p in paths]

    def session(**settings: Any) -> ModelSession:
        config = TaggingConfig(**settings)
        return ModelSession(config, lambda: build_backend(config, None))  # type: ignore[arg-type]

    out: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
    gpu, cpu = session(device="auto", idle_unload_seconds=2), session(device="cpu", idle_unload_seconds=0)
    on_gpu, on_cpu = gpu.predict(images), cpu.predict(images)
    out["device_auto"], out["device_cpu"] = gpu.device, cpu.device
    out["param_dtype"] = str(next(gpu.backend()._model.parameters()).dtype)  # type: ignore[attr-defined]
    out["top1_gpu"] = [p.labels[0][0] for p in on_gpu]
    out["top1_same_as_cpu"] = out["top1_gpu"] == [p.labels[0][0] for p in on_cpu]
    pairs = list(zip(on_gpu, on_cpu, strict=True))
    out["embedding_cosine_min"] = float(min(np.dot(a.embedding, b.embedding) for a, b in pairs))
    out["top1_score_diff_max"] = float(max(abs(a.labels[0][1] - b.labels[0][1]) for a, b in pairs))
    vocabulary, backend = Vocabulary(gpu.config), gpu.backend()
    out["keywords"] = {
        p.name: [k.keyword for k in vocabulary.keywords(pred, backend.describe, backend.exclusive)][:5]
        for p, pred in zip(paths, on_gpu, strict=True)
    }

    many = images * (256 // len(images) + 1)
    for batch in (16, 64):
        timed = session(device="cuda", batch_size=batch, idle_unload_seconds=0)
        timed.predict(many[:batch])
        torch.cuda.synchronize()
        started = time.perf_counter()
        timed.predict(many[:256])
        torch.cuda.synchronize()
        out[f"cuda_fp16_images_per_s_batch{batch}"] = round(256 / (time.perf_counter() - started), 1)
        timed.close()
    started = time.perf_counter()
    cpu.predict(many[:64])
    out["cpu_fp32_images_per_s_batch16"] = round(64 / (time.perf_counter() - started), 1)

    squeezed = session(device="cuda", batch_size=256, idle_unload_seconds=0)
    squeezed.predict(images[:1])
    hog = torch.empty(torch.cuda.mem_get_info()[0] - 700 * 2**20, dtype=torch.uint8, device="cuda")
    results = squeezed.predict(many[:256])
    out["oom_results"], out["oom_batch_after"] = len(results), squeezed.batch_size
    out["oom_events"] = [e["detail"] for e in EVENTS if e["event"] == "oom_batch_halved"]
    out["oom_same_top1"] = [p.labels[0][0] for p in results[: len(images)]] == out["top1_gpu"]
    del hog
    squeezed.close()

    time.sleep(3.5)  # gpu session: idle_unload_seconds = 2
    out["auto_session_loaded_after_idle"] = gpu.loaded
    out["allocated_mb_after_unloads"] = round(torch.cuda.memory_allocated() / 2**20, 1)
    out["reserved_mb_after_unloads"] = round(torch.cuda.memory_reserved() / 2**20, 1)
    out["model_loaded"] = [e["detail"] for e in EVENTS if e["event"] == "model_loaded"][:2]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
