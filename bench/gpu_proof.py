"""The GPU proof in one run, inside a time budget (scripts/gpu_proof.sh runs it on the device machine): decode img/s
(Pillow's reduced decode on one core and on all cores, nvJPEG batched), the prefetching loader, model-only img/s
(EfficientNet-Lite0 fp16), the onnxruntime CUDA provider, and bench.backfill photos/s with the GPU for 2 MP and 12 MP.

Prints one JSON object; a part that fails says why in its place and the rest go on. Without CUDA (`--dry-run`, the
CPU machine) the same parts run on the CPU with small counts, to prove the script before a lease is spent on it.
Usage: python -m bench.gpu_proof [--dry-run] [--budget-s 420] [--onnx PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.backfill import SIZES, distinct_jpegs, measure
from bench.common import REPO, emit, log

ONNX_MODEL = REPO / ".gpu-proof" / "squeezenet" / "SqueezeNet_fp16.onnx"


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def part(figures: dict[str, Any], name: str, budget: Budget, need_s: float, work: Callable[[], Any]) -> None:
    """figures[name] = work(), or why not (an error's last lines, or too little time left)."""
    if budget.left() < need_s:
        figures[name] = {"skipped": f"{budget.left():.0f} s left of the budget, {need_s:.0f} s needed"}
        return
    started = time.monotonic()
    log(f"{name} ...")
    try:
        figures[name] = work()
    except Exception as exc:  # noqa: BLE001 - one part's failure is reported, the proof goes on
        figures[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=4)[-1500:]}
    log(f"{name}: {figures[name]} ({time.monotonic() - started:.1f} s)")


def environment() -> dict[str, Any]:
    import torch

    from daemon.ml.gpu_input import torchvision_io

    facts: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    facts["torchvision_io"] = torchvision_io() is not None
    try:
        import onnxruntime

        facts["onnxruntime"] = onnxruntime.__version__
        facts["ort_available_providers"] = onnxruntime.get_available_providers()
    except ImportError as exc:
        facts["onnxruntime"] = f"not installed: {exc}"
    return facts


def _reduced_decode(path: str) -> int:
    from PIL import Image

    from daemon.pipeline.imaging import draft_box

    with Image.open(path) as image:
        image.draft("RGB", draft_box(image.size, 384))
        image.load()
        return image.size[0]


def decode_rates(paths: list[Path], device: str) -> dict[str, float]:
    """img/s of the probe stage's reduced decode (1 core, all cores) and of nvJPEG in batches of 64 (full size)."""
    import torch

    from daemon.ml.gpu_input import decode_device, decode_jpegs

    rates: dict[str, float] = {}
    sample = paths[: max(8, len(paths) // 8)]
    started = time.perf_counter()
    for path in sample:
        _reduced_decode(str(path))
    rates["cpu_reduced_1_core"] = round(len(sample) / (time.perf_counter() - started), 1)
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn")) as pool:  # CUDA is up here
        list(pool.map(_reduced_decode, map(str, paths[:cores])))  # start-up
        started = time.perf_counter()
        list(pool.map(_reduced_decode, map(str, paths), chunksize=8))
        rates[f"cpu_reduced_{cores}_cores"] = round(len(paths) / (time.perf_counter() - started), 1)
    if device == "cuda" and decode_device("auto") != "cuda":
        rates["gpu_nvjpeg_full_b64"] = "not measured: torchvision.io cannot decode on this GPU here"  # type: ignore[assignment]
    elif device == "cuda":
        datas = [path.read_bytes() for path in paths]
        decode_jpegs(datas[:64], "cuda")
        torch.cuda.synchronize()
        started = time.perf_counter()
        for start in range(0, len(datas), 64):
            decode_jpegs(datas[start : start + 64], "cuda")
        torch.cuda.synchronize()
        rates["gpu_nvjpeg_full_b64"] = round(len(datas) / (time.perf_counter() - started), 1)
    return rates


def loader_rate(paths: list[Path], device: str) -> dict[str, Any]:
    """The prefetching loader to 224 px fp16 batches of 128 on the device (decode where decode_device chooses)."""
    import torch

    from daemon.ml.gpu_input import PrefetchLoader, normalise

    dtype = torch.float16 if device == "cuda" else torch.float32
    loader = PrefetchLoader(paths, 128, 224, device)
    started, count = time.perf_counter(), 0
    for batch in loader:
        normalise(batch.pixels, (127 / 255,) * 3, (128 / 255,) * 3, dtype)
        count += len(batch.paths)
    if device == "cuda":
        torch.cuda.synchronize()
    return {"decode_on": loader.decode, "img_per_s": round(count / (time.perf_counter() - started), 1)}


def model_rates(device: str, batches: tuple[int, ...]) -> dict[str, float]:
    """EfficientNet-Lite0 alone (uint8 batch already on the device, normalised there), fp16 on CUDA."""
    import torch

    from bench.tagging import efficientnet
    from daemon.ml.gpu_input import normalise
    from daemon.ml.inference_opt import channels_last, for_inference

    with contextlib.redirect_stdout(sys.stderr):  # the package prints a line; stdout is the JSON
        model = for_inference(efficientnet(device))  # as the imagenet backend runs it: folded in fp32, then fp16
        model = model.half() if device == "cuda" else model
    dtype = torch.float16 if device == "cuda" else torch.float32
    rates = {}
    for batch in batches:
        pixels = torch.randint(0, 256, (batch, 3, 224, 224), dtype=torch.uint8, device=device)
        with torch.inference_mode():
            model(channels_last(normalise(pixels, (127 / 255,) * 3, (128 / 255,) * 3, dtype)))
            if device == "cuda":
                torch.cuda.synchronize()
            rounds = max(3, 2048 // batch) if device == "cuda" else 2
            started = time.perf_counter()
            for _ in range(rounds):
                model(channels_last(normalise(pixels, (127 / 255,) * 3, (128 / 255,) * 3, dtype)))
            if device == "cuda":
                torch.cuda.synchronize()
        rates[f"b{batch}"] = round(rounds * batch / (time.perf_counter() - started), 1)
    return rates


def ort_cuda(model: Path, device: str) -> dict[str, Any]:
    """A session asking for CUDA first: the providers it really got (a silent CPU fallback shows here), img/s."""
    import numpy as np
    import onnxruntime

    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    session = onnxruntime.InferenceSession(str(model), providers=wanted)
    got = session.get_providers()
    feed = session.get_inputs()[0]
    dtype = np.float16 if "float16" in feed.type else np.float32
    shape = [dim if isinstance(dim, int) else 32 for dim in feed.shape]
    pixels = np.random.default_rng(0).random(shape, dtype=np.float32).astype(dtype)
    session.run(None, {feed.name: pixels})
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        session.run(None, {feed.name: pixels})
    return {
        "asked": wanted,
        "got": got,
        "cuda_proven": got[:1] == ["CUDAExecutionProvider"],
        "input": f"{feed.name} {shape} {dtype.__name__}",
        "img_per_s": round(rounds * shape[0] / (time.perf_counter() - started), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dry-run", action="store_true", help="CPU, small counts: prove the script, not the GPU")
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--onnx", type=Path, default=ONNX_MODEL)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    budget = Budget(args.budget_s)
    figures: dict[str, Any] = {"budget_s": args.budget_s}
    part(figures, "environment", budget, 0, environment)
    device = "cuda" if figures["environment"].get("cuda") and not args.dry_run else "cpu"
    figures["device"] = device
    cores = os.cpu_count() or 1
    counts = {"2MP": 1500, "12MP": 400} if device == "cuda" else {"2MP": 16, "12MP": 8}
    workers = min(16, cores) if device == "cuda" else 2
    with tempfile.TemporaryDirectory(prefix="gpu-proof-") as tmp:
        sets: dict[str, list[Path]] = {}
        for label, count in counts.items():
            started = time.monotonic()
            sets[label] = distinct_jpegs(Path(tmp) / label, count + 1, SIZES[label], workers=cores)
            log(f"made {count + 1} {label} JPEGs in {time.monotonic() - started:.1f} s")
        part(
            figures,
            "model_only_img_per_s",
            budget,
            20,
            lambda: model_rates(device, (32, 256) if device == "cuda" else (8,)),
        )
        part(figures, "ort_cuda_provider", budget, 10, lambda: ort_cuda(args.onnx, device))
        for label, paths in sets.items():
            part(figures, f"decode_img_per_s_{label}", budget, 20, lambda p=paths: decode_rates(p, device))
            part(figures, f"loader_img_per_s_{label}", budget, 20, lambda p=paths: loader_rate(p, device))
        for label, paths in sets.items():
            part(
                figures,
                f"backfill_{label}_{device}_{workers}w",
                budget,
                60,
                lambda p=paths: measure(p, workers, "local", device, metadata=False, timeout_s=budget.left() - 15),
            )
        for label, paths in sets.items():
            subset = paths[: max(9, len(paths) // 4)]
            part(
                figures,
                f"backfill_{label}_{device}_{workers}w_with_metadata",
                budget,
                60,
                lambda p=subset: measure(p, workers, "local", device, metadata=True, timeout_s=budget.left() - 15),
            )
    figures["seconds"] = round(args.budget_s - budget.left(), 1)
    emit(figures)


if __name__ == "__main__":
    main()
