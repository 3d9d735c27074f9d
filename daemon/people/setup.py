"""How the people feature joins the pipeline: whether it is on, probe's larger copy for it, and the faces stage.

The copy for faces is decoded once by probe (at [people] detect_size); the usual reduced copy is shrunk from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.pipeline.face_copies import FaceCopies
from daemon.pipeline.reduced_cache import ReducedCache

if TYPE_CHECKING:
    from daemon.config import Config
    from daemon.pipeline.faces import FacesStage


def people_enabled(config: Config) -> bool:
    """[people] enabled, or unset and the people extra installed."""
    if config.people.enabled is not None:
        return config.people.enabled
    from daemon.ml.faces import missing

    return missing(config.people.detector) is None


def face_copies_for(config: Config) -> FaceCopies | None:
    return FaceCopies(config.cache_dir / "faces", config.people.detect_size) if people_enabled(config) else None


def faces_stage_for(config: Config, copies: ReducedCache | None) -> FacesStage | None:
    if copies is None:
        return None
    from daemon.ml.faces import FaceModels
    from daemon.pipeline.faces import FacesStage

    models = FaceModels(config.people.detector, config.people.device)
    stage = FacesStage(config.people, models, copies, config.engine.max_image_pixels)
    stage.idle_unload_seconds = config.tagging.idle_unload_seconds
    return stage
