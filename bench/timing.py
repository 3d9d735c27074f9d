"""Fair timing for benches: the measured ways take turns (A B C A B C ...), each figure is the median of its turns,
and CPU seconds are reported beside wall seconds (a shared machine moves wall time, much less CPU time).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Turn:
    wall_s: float
    cpu_s: float


def timed(work: Callable[[], object]) -> Turn:
    """Wall and CPU seconds of one call; CPU is this process's (every thread), plus what `work` returns as the CPU
    seconds of helper processes when it returns a float."""
    wall, cpu = time.perf_counter(), time.process_time()
    extra = work()
    helper_cpu = extra if isinstance(extra, float) else 0.0
    return Turn(time.perf_counter() - wall, time.process_time() - cpu + helper_cpu)


def interleaved(ways: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, dict[str, float]]:
    """Run every way once per round, in turn; per way the median images/s by wall time and per CPU second.

    `ways` maps a name to (one pass of work, images in that pass). Each way gets one untimed warm-up pass first.
    """
    for work, _ in ways.values():
        work()
    turns: dict[str, list[Turn]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, (work, _) in ways.items():
            turns[name].append(timed(work))
    figures = {}
    for name, (_, images) in ways.items():
        wall = statistics.median(turn.wall_s for turn in turns[name])
        cpu = statistics.median(turn.cpu_s for turn in turns[name])
        figures[name] = {
            "per_s": round(images / wall, 2),
            "per_cpu_s": round(images / cpu, 2) if cpu > 0 else 0.0,
            "cpu_ms_per_image": round(1000 * cpu / images, 3),
        }
    return figures


def ratio(numerator: dict[str, float], denominator: dict[str, float]) -> dict[str, float]:
    """numerator / denominator by wall rate and by CPU rate."""
    return {
        "wall": round(numerator["per_s"] / denominator["per_s"], 3),
        "cpu": round(numerator["per_cpu_s"] / denominator["per_cpu_s"], 3),
    }
