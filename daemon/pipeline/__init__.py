"""The stage list, assembled in one place, and how a job moves from one stage to the next.

Later features add their stage here and nowhere else; order is the order jobs flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from daemon.config import Config
from daemon.pipeline.base import Stage
from daemon.pipeline.reduced_cache import ReducedCache

if TYPE_CHECKING:
    from daemon.store import Store

Gate = Callable[[Stage], "str | None"]
AHEAD_MIN = 256


@dataclass
class Pipeline:
    stages: list[Stage]
    reduced: ReducedCache
    gates: list[Gate] = field(default_factory=list)
    face_copies: ReducedCache | None = None  # probe's larger copies for the faces stage (daemon/pipeline/faces.py)

    @property
    def first(self) -> str:
        return self.stages[0].name

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def next_after(self, name: str) -> str | None:
        names = [stage.name for stage in self.stages]
        index = names.index(name)
        return names[index + 1] if index + 1 < len(names) else None

    @property
    def ahead_limit(self) -> int:
        """How many jobs may be past the first stage and not finished: enough to fill every later batch a few
        times over, few enough that their reduced copies do not pile up while a slow stage (CPU tagging) works."""
        return max(AHEAD_MIN, 4 * max((stage.batch_size for stage in self.stages[1:]), default=1))

    def pools(self) -> dict[str, list[Stage]]:
        pools: dict[str, list[Stage]] = {}
        for stage in self.stages:
            pools.setdefault(stage.pool, []).append(stage)
        return pools

    def blocked_reason(self, stage: Stage) -> str | None:
        """Why `stage` cannot run right now (its own reason first, then policy gates), or None."""
        reason = stage.available()
        if reason:
            return reason
        for gate in self.gates:
            reason = gate(stage)
            if reason:
                return reason
        return None

    def close(self) -> None:
        for stage in self.stages:
            stage.close()


def build_pipeline(config: Config, store: Store | None = None) -> Pipeline:
    """The stages in flow order; stages that read the store (dedup) are left out when no store is given."""
    from daemon.people.setup import face_copies_for, faces_stage_for
    from daemon.pipeline.hashing import HashStage
    from daemon.pipeline.places import places_from
    from daemon.pipeline.probe import ProbeStage
    from daemon.pipeline.thumbnails import Thumbnails

    reduced = ReducedCache(config.cache_dir)
    face_copies = face_copies_for(config)
    probe = ProbeStage(config.engine.reduced_size, config.engine.max_image_pixels, reduced, places_from(config))
    probe.face_copies = face_copies
    stages: list[Stage] = [
        probe,
        HashStage(Thumbnails(config.data_dir / "thumbs", config.engine.max_image_pixels)),
    ]
    if config.tagging.enabled:
        from daemon.pipeline.tagging import build_tag_stage

        stages.append(build_tag_stage(config.tagging, config.db_path, config.cache_dir))
    from daemon.pipeline.analyze import build_analyze_stage

    analyze = build_analyze_stage(config)  # OCR: after tagging, before the metadata stage writes its text
    if analyze is not None:
        stages.append(analyze)
    faces = faces_stage_for(config, face_copies)  # after analyze, before dedup/rename/metadata write the names
    if faces is not None:
        stages.append(faces)
    if config.dedup.enabled and store is not None:
        from daemon.pipeline.dedup import DedupStage

        thumbs = Thumbnails(config.data_dir / "thumbs", config.engine.max_image_pixels)
        stages.append(DedupStage(config.dedup, store, thumbs))  # thumbnails: candidates' pixels without a decode
    if config.rename.enabled:
        from daemon.pipeline.rename import RenameStage

        stages.append(RenameStage(config, [stage.name for stage in stages]))  # after dedup, before metadata
    if config.metadata.enabled:
        from daemon.metadata import guard
        from daemon.pipeline.metadata import MetadataStage

        metadata = MetadataStage(
            config.metadata,
            config.dedup.tag_keyword,
            config.cache_dir / guard.SCRATCH,
            places_write=config.places.write,
            text_description=config.ocr.write_description,
        )
        if face_copies is not None:  # named people go into the files too
            metadata.people = (config.people.write_keywords, config.people.write_regions)
        stages.append(metadata)
    return Pipeline(stages, reduced, face_copies=face_copies)
