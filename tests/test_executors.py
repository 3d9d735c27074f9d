"""The cluster node's steps without Ray: the same stages, and outcomes that come back as the local worker's.

Ray Data calls these functions on numpy batches; here they are called the same way, in this process.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from daemon.config import Config, TaggingConfig, WatchConfig
from daemon.errors import PermanentError, WaitingError
from daemon.executors.node import cpu_step, read_on_owner
from daemon.executors.wire import Parcel, decode_outcome, encode_outcome, pack, unpack
from daemon.pipeline import build_pipeline
from daemon.pipeline.base import WorkItem
from daemon.store.queue import Job
from tests.support import corpus


def parcels_for(paths: list[Path]) -> dict[str, np.ndarray]:
    parcels = [
        Parcel(Job(index, index, str(path), str(path.parent), "fp", "probe", 0, 1, "test"), ["probe", "hash"], {})
        for index, path in enumerate(paths, start=1)
    ]
    return {"parcel": np.array([pack(parcel) for parcel in parcels], dtype=object)}


def test_shipped_bytes_give_the_results_and_the_reasons_a_local_worker_records(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data", watch=[WatchConfig(path=tmp_path / "drop")])
    config.tagging = TaggingConfig(enabled=False)
    originals = [corpus() / "photos" / "Nikon D5000.jpg", corpus() / "broken" / "african_elephants_truncated_file.jpg"]
    good, truncated = (tmp_path / original.name for original in originals)
    for original, copy in zip(originals, (good, truncated), strict=True):
        shutil.copy2(original, copy)
    gone = tmp_path / "gone.jpg"

    local = {stage.name: stage for stage in build_pipeline(dataclasses.replace(config, data_dir=tmp_path / "l")).stages}
    parcels = parcels_for([good, truncated, gone])
    item = WorkItem(unpack(parcels["parcel"][0], "test").job, results=lambda stage: None, reduced_loader=lambda i: None)
    expected_probe, expected_hash = local["probe"].run(item), local["hash"].run(item)
    with pytest.raises(PermanentError) as local_failure:
        local["probe"].run(
            WorkItem(
                unpack(parcels["parcel"][1], "test").job, results=lambda stage: None, reduced_loader=lambda i: None
            )
        )

    shipped = read_on_owner(parcels)  # the owner reads; the node below cannot: the files are gone from its view
    good.unlink()
    truncated.unlink()
    back = [unpack(data, "to_owner") for data in cpu_step(shipped, config)["parcel"]]

    assert [stage for stage, _ in back[0].outcomes] == ["probe", "hash"]
    assert decode_outcome(back[0].outcomes[0][1]) == expected_probe
    assert decode_outcome(back[0].outcomes[1][1]) == expected_hash
    assert back[0].memory == {}  # nothing but the outcomes travels back to the owner
    assert back[0].wire["planned"] < 1000 < back[0].wire["to_cpu"]  # the photo's bytes went out once

    failed = decode_outcome(back[1].outcomes[0][1])
    assert isinstance(failed, PermanentError) and str(failed) == str(local_failure.value)
    assert str(failed).startswith("truncated file: the image data ends early")
    assert [stage for stage, _ in back[1].outcomes] == ["probe"]  # a failed file stops at its stage

    vanished = decode_outcome(back[2].outcomes[0][1])
    assert type(vanished).__name__ == "GoneError" and str(vanished) == "file disappeared before it could be read"


def test_outcomes_keep_their_kind_and_words_across_the_wire() -> None:
    waiting = decode_outcome(encode_outcome(WaitingError("model not found: install it", 45.0)))
    assert isinstance(waiting, WaitingError) and waiting.reason == "model not found: install it"
    assert waiting.retry_after == 45.0
    internal = decode_outcome(encode_outcome(ValueError("bad value")))
    assert type(internal).__name__ == "ValueError" and str(internal) == "bad value"
    assert decode_outcome(encode_outcome({"sha256": "ab"})) == {"sha256": "ab"}
