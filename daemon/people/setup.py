"""How the people feature joins the pipeline: whether it is on, probe's larger copy for it, and the faces stage.

The copy for faces is decoded once by probe (at [people] detect_size); the usual reduced copy is shrunk from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.pipeline.reduced_cache import ReducedCache

if TYPE_CHECKING:
    from PIL import Image

    from daemon.config import Config
    from daemon.pipeline.faces import FacesStage

COPIES_BYTES = 48 << 20


def people_enabled(config: Config) -> bool:
    """[people] enabled, or unset and the people extra installed."""
    if config.people.enabled is not None:
        return config.people.enabled
    from daemon.ml.faces import missing

    return missing(config.people.detector) is None


class FaceCopies(ReducedCache):
    """Probe's copies for face detection, kept until the faces stage has run (spilled to JPEG past a budget)."""

    def __init__(self, config: Config):
        super().__init__(config.cache_dir / "faces", COPIES_BYTES)
        self.size = config.people.detect_size

    def keep(self, file_id: int, image: Image.Image, orientation: int | None, reduced_size: int) -> Image.Image:
        """Decode `image` once at the face size, keep that copy, and return the usual reduced copy shrunk from it."""
        from daemon.pipeline.imaging import reduce

        larger = reduce(image, max(self.size, reduced_size), orientation)
        self.put(file_id, larger)
        factor = max(larger.size) // reduced_size
        return larger.reduce(factor) if factor > 1 else larger


def face_copies_for(config: Config) -> FaceCopies | None:
    return FaceCopies(config) if people_enabled(config) else None


def faces_stage_for(config: Config, copies: ReducedCache | None) -> FacesStage | None:
    if copies is None:
        return None
    from daemon.ml.faces import FaceModels
    from daemon.pipeline.faces import FacesStage

    models = FaceModels(config.people.detector, config.people.device)
    return FacesStage(config.people, models, copies, config.engine.max_image_pixels)
