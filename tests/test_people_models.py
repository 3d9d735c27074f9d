"""The face models themselves: CenterFace finds the faces of a real group photo and none on a dog, dlib's
descriptors put two photos of one man closer than two men, and an idle engine lets the models go.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from daemon.ml.faces import FaceModels, missing
from tests.support import corpus
from tests.test_people import need_face_models


def photo(name: str) -> Image.Image:
    with Image.open(corpus() / "faces" / name) as image:
        copy = image.convert("RGB")
    copy.thumbnail((768, 768))
    return copy


def test_faces_are_found_described_and_the_models_unloaded_when_idle() -> None:
    need_face_models()
    now = [1000.0]
    models = FaceModels(device="cpu", clock=lambda: now[0])
    try:
        crew = photo("Pilots.jpg")
        found = models.detect(crew, 0.6)
        assert len(found) == 3 and all(d.score > 0.8 for d in found)
        assert models.detect(photo("dog.jpg"), 0.6) == []

        pair = photo("two_people.jpg")  # Obama left, Biden right
        obama, biden = sorted(models.detect(pair, 0.6), key=lambda d: d.box[0])
        left, right = models.describe(pair, [obama, biden])
        (alone,) = models.describe(photo("obama.jpg"), models.detect(photo("obama.jpg"), 0.6))
        assert np.linalg.norm(alone - left) < 0.55 < np.linalg.norm(alone - right)

        now[0] += 299
        assert not models.unload_if_idle(300) and models.loaded
        now[0] += 2
        assert models.unload_if_idle(300) and not models.loaded
        assert len(models.detect(crew, 0.6)) == 3 and models.loads == 2  # loaded again on the next photo
    finally:
        models.close()


def test_a_missing_detector_or_package_is_a_reason_that_says_what_to_do(tmp_path: Path) -> None:
    absent = tmp_path / "none.onnx"
    reason = missing(str(absent))  # with the extra: the file; without it: the package to install first
    assert reason is not None
    assert f"face detector {absent} not found" in reason or "pip install" in reason, reason
