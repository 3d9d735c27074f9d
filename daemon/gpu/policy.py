"""GPU samples and the pure policy that turns them (plus `[gpu]` config) into why heavy work waits, or None.

No threads, no NVML: the monitor in `daemon.gpu.monitor` feeds it; tests call it with samples they write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.config import GpuConfig


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    name: str | None  # None when the name cannot be read (another user's process, another container)
    memory_bytes: int | None  # None when the driver does not say (Windows WDDM)
    sm_percent: int | None = None  # this process's share of GPU time, when the driver reports it
    own: bool = False  # the engine itself (or its children)
    visible: bool = True  # the pid exists in our pid namespace (False inside a container: a host pid)


@dataclass(frozen=True)
class DeviceSample:
    index: int
    name: str
    utilisation: int | None  # % of time a kernel ran, all processes together
    memory_used: int | None  # bytes
    memory_total: int | None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    processes: tuple[GpuProcess, ...] = ()
    per_process_utilisation: bool = False  # sm_percent of the processes is known (else only the total)
    own_cuda: bool = False  # the engine has CUDA loaded while no listed pid is recognisably its own


@dataclass(frozen=True)
class Verdict:
    """Why heavy work waits: `key` names the cause (kind and culprit pids) and stays put while the figures
    in `text` move from sample to sample."""

    key: tuple[Any, ...]
    text: str


@dataclass(frozen=True)
class GpuPolicy:
    """Pure: samples + config -> the reason heavy work waits, or None."""

    yield_above_share: float = 0.3
    pause_above_celsius: float = 85.0
    pause_on_battery: bool = False
    device: int = 0

    @classmethod
    def from_config(cls, config: GpuConfig) -> GpuPolicy:
        return cls(config.yield_above_share, config.pause_above_celsius, config.pause_on_battery, config.device)

    def reason(
        self, devices: list[DeviceSample] | None, on_battery: bool | None, work: str = "heavy work"
    ) -> str | None:
        verdict = self.verdict(devices, on_battery, work)
        return None if verdict is None else verdict.text

    def verdict(
        self, devices: list[DeviceSample] | None, on_battery: bool | None, work: str = "heavy work"
    ) -> Verdict | None:
        if self.pause_on_battery and on_battery:
            return Verdict(("battery",), f"on battery power; {work} resumes when the charger is plugged in")
        device = self.watched(devices)
        if device is None:
            return None
        if device.temperature_c is not None and device.temperature_c > self.pause_above_celsius:
            return Verdict(
                ("heat",),
                f"GPU too hot: {device.temperature_c:.0f}°C (limit {self.pause_above_celsius:.0f}°C);"
                f" {work} resumes when it cools down",
            )
        share, users = other_memory_share(device)
        if share is not None and share > self.yield_above_share:
            text = f"{_who(users)} {_verb(users, 'uses')} {share:.0%} of GPU memory"
            return Verdict(("memory", *_pids(users)), f"GPU busy: {text}; {work} resumes when it drops")
        busy, users = other_utilisation(device)
        if busy is not None and busy > self.yield_above_share * 100:
            text = f"{_who(users)} {_verb(users, 'keeps')} the GPU {busy}% busy"
            return Verdict(("utilisation", *_pids(users)), f"GPU busy: {text}; {work} resumes when it drops")
        return None

    def watched(self, devices: list[DeviceSample] | None) -> DeviceSample | None:
        return next((device for device in devices or [] if device.index == self.device), None)


def others(device: DeviceSample) -> list[GpuProcess]:
    """Processes that are not the engine. The driver seen on an H100 (580) reports pids in the caller's pid
    namespace, so the engine finds itself even in a container. Where a container sees host pids instead: while the
    engine has CUDA loaded and finds no pid of its own, a pid it cannot see may be itself and is not counted
    (never yield to ourselves); it counts again once the engine's model is unloaded."""
    own_listed = any(process.own for process in device.processes)
    ambiguous = device.own_cuda and not own_listed
    return [p for p in device.processes if not p.own and not (ambiguous and not p.visible)]


def other_memory_share(device: DeviceSample) -> tuple[float | None, list[GpuProcess]]:
    if not device.memory_total:
        return None, []
    users = others(device)
    known = sum(p.memory_bytes or 0 for p in users)
    if any(p.memory_bytes is None for p in users) and device.memory_used is not None:
        own = sum(p.memory_bytes or 0 for p in device.processes if p.own)
        known = max(known, device.memory_used - own)
    users.sort(key=lambda p: p.memory_bytes or 0, reverse=True)
    return known / device.memory_total, users


def other_utilisation(device: DeviceSample) -> tuple[int | None, list[GpuProcess]]:
    users = others(device)
    if device.per_process_utilisation:
        busy = [p for p in users if p.sm_percent]
        busy.sort(key=lambda p: p.sm_percent or 0, reverse=True)
        return min(100, sum(p.sm_percent or 0 for p in busy)), busy
    if any(p.own for p in device.processes) or device.own_cuda:
        return None, users  # the total includes our own work and cannot be split
    return device.utilisation, users


def _who(users: list[GpuProcess]) -> str:
    def one(process: GpuProcess) -> str:
        return f"{process.name}, pid {process.pid}" if process.name else f"pid {process.pid}"

    if not users:
        return "another program"
    if len(users) == 1:
        return f"another program ({one(users[0])})"
    shown = "; ".join(one(p) for p in users[:3]) + ("; ..." if len(users) > 3 else "")
    return f"other programs ({shown})"


def _pids(users: list[GpuProcess]) -> list[int]:
    return sorted(p.pid for p in users[:3])


def _verb(users: list[GpuProcess], singular: str) -> str:
    return singular if len(users) <= 1 else singular[:-1]
