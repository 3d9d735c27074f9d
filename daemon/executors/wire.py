"""What travels between the owning engine and cluster nodes: work items out, stage outcomes back, as bytes.

Outcomes carry their error's kind and words, so the owner records a failure exactly as a local worker would.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

from daemon import errors
from daemon.store.queue import Job

KNOWN_ERRORS: dict[str, type[errors.StageError]] = {
    cls.__name__: cls
    for cls in (errors.GoneError, errors.PermanentError, errors.RetryableError, errors.WaitingError, errors.StageError)
}


@dataclass
class Parcel:
    """One job on its way through the cluster: the job, what earlier stages recorded, the stages' outcomes so far,
    and the in-memory scratch a later stage reuses (the reduced copy; the shipped bytes)."""

    job: Job
    route: list[str]  # the stages to run here, in order, from the job's current one
    earlier: dict[str, dict[str, Any]]
    outcomes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (stage, encoded outcome)
    memory: dict[str, Any] = field(default_factory=dict)
    wire: dict[str, int] = field(default_factory=dict)  # bytes of this parcel at each hop, for the bench

    @property
    def failed(self) -> bool:
        return any("error" in outcome for _, outcome in self.outcomes)


def pack(parcel: Parcel) -> bytes:
    return pickle.dumps(parcel, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes, hop: str) -> Parcel:
    """The parcel, noting how many bytes it took to arrive at `hop`."""
    parcel: Parcel = pickle.loads(data)  # noqa: S301 - parcels come only from our own engine and its cluster
    parcel.wire[hop] = len(data)
    return parcel


def encode_outcome(outcome: dict[str, Any] | BaseException) -> dict[str, Any]:
    if not isinstance(outcome, BaseException):
        return {"result": outcome}
    encoded: dict[str, Any] = {"error": str(outcome), "kind": type(outcome).__name__}
    if isinstance(outcome, errors.StageError):
        encoded["stage_error"] = True
        if isinstance(outcome, errors.WaitingError):
            encoded["error"], encoded["retry_after"] = outcome.reason, outcome.retry_after
    if isinstance(outcome, OSError):
        encoded["errno"], encoded["filename"], encoded["strerror"] = outcome.errno, outcome.filename, outcome.strerror
    return encoded


def decode_outcome(encoded: dict[str, Any]) -> dict[str, Any] | BaseException:
    """The outcome as the stage returned it on the node: the result, or an exception of the same kind and words."""
    if "result" in encoded:
        return encoded["result"]
    kind, message = encoded["kind"], encoded["error"]
    if encoded.get("stage_error"):
        cls = KNOWN_ERRORS.get(kind, errors.StageError)
        if cls is errors.WaitingError:
            return errors.WaitingError(message, encoded.get("retry_after", 30.0))
        return cls(message)
    if "errno" in encoded:
        return OSError(encoded["errno"], encoded["strerror"] or message, encoded["filename"])
    return type(kind, (Exception,), {})(message)  # "internal error: ValueError: ..." as locally
