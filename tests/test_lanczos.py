"""The perceptual hashes' own LANCZOS resize gives Pillow's pixels exactly, for every shape and both pass orders.

Stored pHash/dHash values must not move (dedup compares new photos with old ones), so "close" is not enough.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from daemon.pipeline import lanczos
from daemon.pipeline.hashing import hash_input, perceptual_hashes


def pillow(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels, "L").resize(size, Image.Resampling.LANCZOS))


def test_resize_equals_pillow_on_noise_edges_and_gradients_of_every_shape() -> None:
    generator = np.random.default_rng(7)
    orders = set()
    for trial in range(60):
        width, height = (int(value) for value in generator.integers(1, 300, 2))
        pattern = trial % 3
        if pattern == 0:
            pixels = generator.integers(0, 256, (height, width))
        elif pattern == 1:  # hard black/white edges: the negative lobes clip at 0 and 255
            pixels = generator.integers(0, 2, (height, width)) * 255
        else:
            pixels = np.clip(np.cumsum(generator.integers(-4, 5, (height, width)), axis=1) + 128, 0, 255)
        pixels = pixels.astype(np.uint8)
        target = (int(generator.integers(1, 70)), int(generator.integers(1, 70)))
        for size in ((32, 32), (9, 8), target):
            order = lanczos.pass_order(width, height, *size)
            got = lanczos.passes(pixels.astype(np.float64), size, order) if order else lanczos.resize(pixels, size)
            assert np.array_equal(got, pillow(pixels, size)), ((width, height), size, order)
            orders.add(order)
    assert {"hv", "vh"} <= orders, orders  # both orders met (Pillow 13 goes vertical first for tall shrinks)


def test_the_hash_sizes_of_photos_are_done_here_not_handed_back_to_pillow() -> None:
    """The speed-up is real only when the usual hash inputs (4:3, 3:2, 16:9, square, both ways up) get an order."""
    for width, height in (
        (136, 102),
        (102, 136),
        (167, 125),
        (125, 167),
        (192, 128),
        (128, 192),
        (227, 128),
        (128, 128),
    ):
        for size in ((32, 32), (9, 8)):
            assert lanczos.pass_order(width, height, *size) in ("hv", "vh"), ((width, height), size)


def test_perceptual_hashes_of_a_tall_photo_are_imagehashs() -> None:
    import imagehash

    generator = np.random.default_rng(3)
    rows = np.cumsum(generator.integers(-6, 7, (900, 300)), axis=0)
    photo = Image.fromarray(np.clip(rows + 128, 0, 255).astype(np.uint8), "L").convert("RGB")
    small = hash_input(photo)
    assert perceptual_hashes(small) == (str(imagehash.phash(small)), str(imagehash.dhash(small)))


def test_a_size_met_often_is_resized_by_its_plan_and_still_equals_pillow() -> None:
    generator = np.random.default_rng(11)
    for _ in range(lanczos.PLAN_AFTER + 3):
        pixels = generator.integers(0, 256, (97, 131)).astype(np.uint8)
        assert np.array_equal(lanczos.resize(pixels, (32, 32)), pillow(pixels, (32, 32)))
    assert lanczos.pass_order(131, 97, 32, 32) in ("hv", "vh")  # planned: the last resizes were the matrix ones
