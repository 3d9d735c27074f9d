"""What a cluster node runs: the engine's own stages, built from the owner's config, on batches of parcels.

No Ray here: Ray Data calls these on numpy batches ({"parcel": bytes objects}); a local test can call them the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from daemon.config import Config
from daemon.errors import StageError
from daemon.executors.wire import Parcel, encode_outcome, pack, unpack
from daemon.pipeline.base import Stage, WorkItem

CPU_STAGES = ("probe", "hash")  # file reading and decoding: CPU tasks on every node
MODEL_STAGES = ("tag", "analyze")  # models: a pool of actors that keep them loaded
REMOTE_STAGES = CPU_STAGES + MODEL_STAGES  # dedup, rename and metadata need the store: the owner runs them

_built: dict[str, dict[str, Stage]] = {}  # one set of stages per worker process and config


def node_config(config: Config) -> Config:
    """The owner's config with a node-local data folder (the node never opens the owner's store) and only the
    stages a node runs."""
    key = hashlib.sha256(str(config.data_dir).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"image-engine-node-{os.getuid() if hasattr(os, 'getuid') else 0}" / key
    return dataclasses.replace(
        config,
        data_dir=folder,
        rename=dataclasses.replace(config.rename, enabled=False),
        metadata=dataclasses.replace(config.metadata, enabled=False),
        dedup=dataclasses.replace(config.dedup, enabled=False),
    )


def node_stages(config: Config) -> dict[str, Stage]:
    """This process's stages for the owner's config, built once (models load on first use, as locally)."""
    from daemon.pipeline import build_pipeline

    key = repr(config)
    stages = _built.get(key)
    if stages is None:
        pipeline = build_pipeline(node_config(config), store=None)
        stages = {stage.name: stage for stage in pipeline.stages if stage.name in REMOTE_STAGES}
        if "hash" in stages:
            stages["hash"].thumbs = None  # type: ignore[attr-defined] # thumbnails belong in the owner's data folder
        if "tag" in stages:
            stages["tag"].learned = None  # type: ignore[attr-defined] # taught keywords are read from the store
        _built[key] = stages
    return stages


def cpu_step(batch: dict[str, np.ndarray], config: Config) -> dict[str, np.ndarray]:
    """Ray Data task: probe and hash (read or take the shipped bytes, decode, reduce, hash) for a batch."""
    stages = node_stages(config)
    parcels = [unpack(data, "to_cpu") for data in batch["parcel"]]
    run_route(stages, parcels, CPU_STAGES, config)
    for parcel in parcels:
        probe = stages.get("probe")
        if probe is not None:  # the reduced copy travels in the parcel; the faces stage runs on the owner
            for cache in (probe.cache, getattr(probe, "face_copies", None)):  # type: ignore[attr-defined]
                if cache is not None:
                    cache.drop(parcel.job.file_id)
        parcel.memory.pop("bytes", None)
        rest = [] if parcel.failed else parcel.route[len(parcel.outcomes) :]
        if not rest:
            parcel.memory.clear()  # back to the owner: only the outcomes
        elif "analyze" not in rest:
            parcel.memory.pop("shipped", None)  # only the analyzers read the photo again (at a larger size)
    return {"parcel": np.array([pack(parcel) for parcel in parcels], dtype=object)}


class ModelStep:
    """Ray Data actor: keeps the tag model (and the analyzers' models) loaded across batches."""

    def __init__(self, config: Config):
        self.config = config
        self.stages = node_stages(config)
        for name in MODEL_STAGES:  # load the models before the first batch arrives
            stage = self.stages.get(name)
            if stage is not None:
                _prepare(stage)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        parcels = [unpack(data, "to_model") for data in batch["parcel"]]
        run_route(self.stages, parcels, MODEL_STAGES, self.config)
        for parcel in parcels:
            parcel.memory.clear()  # the owner needs only the outcomes
        return {"parcel": np.array([pack(parcel) for parcel in parcels], dtype=object)}


def run_route(stages: dict[str, Stage], parcels: list[Parcel], names: tuple[str, ...], config: Config) -> None:
    """Run each stage of `names` on the parcels whose route reaches it, in order, as a local worker would: one
    batch per stage, a failing file stops there, a batch that raises is retried file by file."""
    for name in names:
        stage = stages.get(name)
        ready = [p for p in parcels if not p.failed and _next(p) == name]
        if stage is None or not ready:
            continue
        _prepare(stage)
        items = [_item(parcel, config) for parcel in ready]
        size = max(1, stage.batch_size)
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            started = time.perf_counter()
            outcomes = _run_contained(stage, chunk)
            ms = round((time.perf_counter() - started) * 1000 / len(chunk), 1)
            for parcel, item, outcome in zip(ready[start : start + size], chunk, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    item.memory[f"result:{name}"] = outcome
                parcel.outcomes.append((name, {**encode_outcome(outcome), "ms": ms}))


def _prepare(stage: Stage) -> None:
    """Load the model or start the tool now; a failure is met again by run_batch, which says it per file."""
    if not stage.ready():
        with contextlib.suppress(Exception):
            stage.prepare()


def _next(parcel: Parcel) -> str | None:
    return parcel.route[len(parcel.outcomes)] if len(parcel.outcomes) < len(parcel.route) else None


def _item(parcel: Parcel, config: Config) -> WorkItem:
    def reload(item: WorkItem) -> Any:
        from daemon.pipeline.imaging import open_image, reduce
        from daemon.pipeline.probe import source_bytes

        image = open_image(source_bytes(item), item.path, config.engine.max_image_pixels)
        return reduce(image, config.engine.reduced_size, item.result("probe").get("orientation"))

    return WorkItem(job=parcel.job, results=parcel.earlier.get, reduced_loader=reload, memory=parcel.memory)


def _run_contained(stage: Stage, items: list[WorkItem]) -> list[dict[str, Any] | BaseException]:
    """The stage's outcomes; an error escaping a whole batch fails only the file at fault (run alone)."""
    try:
        return stage.run_batch(items)
    except Exception as exc:  # noqa: BLE001 - one file's error must not fail its batch mates
        if len(items) == 1:
            return [exc]
    outcomes: list[dict[str, Any] | BaseException] = []
    for item in items:
        try:
            outcomes.append(stage.run_batch([item])[0])
        except Exception as exc:  # noqa: BLE001 - now it is this file's own error
            outcomes.append(exc)
    return outcomes


def read_on_owner(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ray Data task pinned to the owner's node ([cluster] photos = "shipped"): read each photo and ship its bytes
    (and mtime) in the parcel; a file that cannot be read fails at its first stage, with the local reason."""
    from daemon.pipeline.probe import read_bytes

    parcels = [unpack(data, "planned") for data in batch["parcel"]]
    for parcel in parcels:
        try:
            parcel.memory["shipped"] = read_bytes(parcel.job.path)
            parcel.memory["mtime"] = os.stat(parcel.job.path).st_mtime
        except (StageError, OSError) as exc:
            parcel.memory.pop("shipped", None)
            parcel.outcomes.append((parcel.route[0], {**encode_outcome(exc), "ms": 0.0}))
    return {"parcel": np.array([pack(parcel) for parcel in parcels], dtype=object)}
