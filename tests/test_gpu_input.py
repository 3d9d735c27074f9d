"""GPU model input through its CPU ways (no GPU here): device choice, decode, resize, the prefetching loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from daemon.ml import gpu_input
from daemon.ml.preprocess import Preprocess
from tests.support import corpus


def jpegs(folder: Path, count: int) -> list[Path]:
    sources = sorted((corpus() / "photos").glob("*.jpg"))[:count]
    made = []
    for index, source in enumerate(sources):
        with Image.open(source) as image:
            target = folder / f"{index}.jpg"
            image.convert("RGB").save(target, quality=90)
            made.append(target)
    return made


def test_without_cuda_every_way_decodes_on_the_cpu() -> None:
    assert not torch.cuda.is_available()
    assert gpu_input.decode_device("auto") == "cpu"
    assert gpu_input.decode_device("cuda") == "cpu"
    assert gpu_input.decode_device("cpu") == "cpu"


def test_cpu_decode_is_the_probe_stage_reduced_decode(tmp_path: Path) -> None:
    path = jpegs(tmp_path, 1)[0]
    tensor = gpu_input.decode_jpegs([path.read_bytes()], "cpu", 384)[0]
    with Image.open(path) as image:
        full = image.size
        image.draft("RGB", gpu_input.draft_box(full, 384))
        expected = np.asarray(image.convert("RGB"))
    assert tensor.dtype == torch.uint8 and tuple(tensor.shape) == (3, *expected.shape[:2])
    assert max(tensor.shape[1:]) >= 384 and max(tensor.shape[1:]) < max(full)
    assert np.array_equal(tensor.permute(1, 2, 0).numpy(), expected)


def test_resize_crop_matches_the_cpu_preprocessing_within_a_few_levels(tmp_path: Path) -> None:
    paths = jpegs(tmp_path, 3)
    tensors = gpu_input.decode_jpegs([p.read_bytes() for p in paths], "cpu", 384)
    batch = gpu_input.resize_crop(tensors, 224)
    assert tuple(batch.shape) == (3, 3, 224, 224) and batch.dtype == torch.uint8
    for tensor, pixels in zip(tensors, batch, strict=True):
        image = Image.fromarray(tensor.permute(1, 2, 0).numpy())
        reference = Preprocess(224, resample=Image.Resampling.BILINEAR).pixels(image).astype(int)
        assert np.abs(pixels.permute(1, 2, 0).numpy().astype(int) - reference).mean() < 4


def test_normalise_gives_the_models_input_range() -> None:
    batch = torch.tensor([0, 127, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(1, 3, 1, 3)
    out = gpu_input.normalise(batch, (127 / 255,) * 3, (128 / 255,) * 3, torch.float32)
    assert torch.allclose(out[0, 0, 0], torch.tensor([-127 / 128, 0.0, 1.0]))


def test_the_loader_yields_every_file_in_order_and_names_the_ones_it_cannot_read(tmp_path: Path) -> None:
    paths = jpegs(tmp_path, 5)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    ordered = paths[:2] + [broken, tmp_path / "missing.jpg"] + paths[2:]
    loader = gpu_input.PrefetchLoader(ordered, batch_size=3, size=224, device="cpu")
    seen, failed = [], []
    for batch in loader:
        assert tuple(batch.pixels.shape[1:]) == (3, 224, 224) and len(batch.paths) == batch.pixels.shape[0]
        seen += batch.paths
        failed += batch.failed
    assert seen == paths
    assert [path.name for path, _ in failed] == ["broken.jpg", "missing.jpg"]
    assert "cannot decode image" in failed[0][1] and "cannot read file" in failed[1][1]


def test_a_consumer_that_stops_early_leaves_no_loader_thread(tmp_path: Path) -> None:
    paths = jpegs(tmp_path, 4) * 4
    for batch in gpu_input.PrefetchLoader(paths, batch_size=2, size=64, device="cpu", depth=1):
        assert len(batch.paths) == 2
        break
    import threading

    assert not [t for t in threading.enumerate() if t.name == "prefetch-loader"]


def test_to_device_makes_nchw() -> None:
    batch = np.arange(2 * 5 * 7 * 3, dtype=np.uint8).reshape(2, 5, 7, 3)
    moved = gpu_input.to_device(batch, "cpu")
    assert tuple(moved.shape) == (2, 3, 5, 7) and np.array_equal(moved.permute(0, 2, 3, 1).numpy(), batch)
