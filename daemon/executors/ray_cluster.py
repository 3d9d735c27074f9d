"""The owner's side of Ray: join the cluster, and run a window of parcels as one Ray Data pipeline, streamed back.

CPU tasks (read, decode, hash) run on every node; the models run in an actor pool sized from the cluster's resources.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from daemon.config import Config
from daemon.errors import EngineError
from daemon.executors.node import MODEL_STAGES, ModelStep, cpu_step, read_on_owner
from daemon.executors.wire import Parcel, pack, unpack

log = logging.getLogger("image_engine.cluster")
PACKAGE = Path(__file__).resolve().parent.parent  # daemon/: shipped to the nodes, so they run the owner's code
READERS = 2  # reading tasks on the owner at once: the disk or NAS is the limit, and each needs a worker process
CPU_BATCH = 8  # photos per block and decode task: a task costs ~ms; a lost node costs only its blocks in flight


@dataclass
class Shape:
    nodes: int
    cpus: float
    gpus: float

    @property
    def model_actors(self) -> int:
        """One model actor per GPU; without GPUs, one per two CPUs (the rest decode)."""
        return int(self.gpus) if self.gpus >= 1 else max(1, int(self.cpus) // 2)


class RayCluster:
    """A connection of this engine (the driver) to a Ray cluster, kept for the life of the process.

    Never `ray.shutdown()` in the engine: if a Ray Data thread still winds down, Ray exits the whole process (a CI
    run lost the engine that way). Each pipeline's tasks and actors end with its dataset; the next backfill reuses
    the connection."""

    def __init__(self, address: str):
        self.address = address
        self.owner_node = ""

    def connect(self) -> Shape:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError:
            raise EngineError(
                "the Ray executor needs the cluster extra: pip install 'image-engine[cluster]' (on every node too)"
            ) from None
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address or "auto",
                    runtime_env={"py_modules": [str(PACKAGE)]},
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise EngineError(
                    f"cannot join the Ray cluster at {self.address!r}: {exc}. Start one with `ray start --head` and"
                    " join this machine to it with `ray start --address=HEAD:6379`, or set [cluster] ray_address"
                ) from None
            import ray.data

            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = False  # results come back as they finish
            context.enable_progress_bars = False
            context.print_on_execution_start = False
        self.owner_node = ray.get_runtime_context().get_node_id()
        return self.shape()

    def shape(self) -> Shape:
        import ray

        alive = [node for node in ray.nodes() if node.get("Alive")]
        resources = ray.cluster_resources()
        return Shape(len(alive), float(resources.get("CPU", 0)), float(resources.get("GPU", 0)))

    def run(self, config: Config, parcels: list[Parcel]) -> Iterator[Parcel]:
        """Parcels with their outcomes, as each batch finishes (any order). Closing the iterator early stops the
        pipeline: unfinished batches are dropped, nothing is recorded for them."""
        import ray

        shape = self.shape()
        dataset = ray.data.from_items(
            [{"parcel": pack(parcel)} for parcel in parcels],
            override_num_blocks=max(1, -(-len(parcels) // CPU_BATCH)),
        )
        if config.cluster.photos == "shipped":  # the owner reads; the bytes travel in the parcel
            dataset = dataset.map_batches(
                read_on_owner,
                batch_size=CPU_BATCH,
                batch_format="numpy",
                num_cpus=0,  # reading is I/O: it must never wait for a CPU the decoders hold
                compute=ray.data.TaskPoolStrategy(size=READERS),  # without a CPU to bound them: a few workers
                ray_remote_args_fn=partial(_on_node, self.owner_node),
            )
        dataset = dataset.map_batches(
            cpu_step,
            fn_kwargs={"config": config},
            batch_size=CPU_BATCH,
            batch_format="numpy",
            num_cpus=1,
            ray_remote_args_fn=_spread,  # decode on every node; also keeps it a task pool apart from the model actors
        )
        if any(name in parcel.route for parcel in parcels for name in MODEL_STAGES):
            dataset = dataset.map_batches(
                ModelStep,
                fn_constructor_kwargs={"config": config},
                batch_size=max(1, config.tagging.batch_size),
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=shape.model_actors),
                num_cpus=1,
                num_gpus=1 if shape.gpus >= 1 else 0,
            )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
            for data in batch["parcel"]:
                yield unpack(data, "to_owner")


def _on_node(node_id: str) -> dict[str, object]:
    """Ray remote args that keep a task on one node (the owner's disk is read only there)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}


def _spread() -> dict[str, object]:
    return {"scheduling_strategy": "SPREAD"}
