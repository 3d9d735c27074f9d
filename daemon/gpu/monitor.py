"""GPU monitor: samples NVML (utilisation, memory, heat, power, other processes) on a thread and answers the
pipeline gate, `status --json` and `batch_cap(bytes_per_image)` (asked by the tag stage before a CUDA batch).

`Sampler` is the seam to the hardware (`daemon.gpu.nvml.NvmlSampler`; tests script one); the policy is pure
(`daemon.gpu.policy`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from daemon.config import GpuConfig
from daemon.gpu.policy import (
    DeviceSample,
    GpuPolicy,
    GpuProcess,
    Verdict,
    other_memory_share,
    other_utilisation,
)

if TYPE_CHECKING:
    from daemon.pipeline.base import Stage

log = logging.getLogger("image_engine.gpu")
MiB = 2**20
LOG_EVERY_SECONDS = 60.0
REFRESH_SECONDS = 60.0  # a waiting reason's figures are refreshed at most this often while the cause holds
__all__ = ["DeviceSample", "GpuMonitor", "GpuPolicy", "GpuProcess", "Sampler", "batch_cap", "install"]


class Sampler(Protocol):
    """Where samples come from: NVML in the product, a scripted sequence in tests."""

    driver: str | None

    def open(self) -> str | None:
        """Start; None when ready, else why no GPU can be watched (e.g. no NVIDIA driver)."""

    def sample(self) -> list[DeviceSample]:
        """One reading of every device; may raise (the monitor logs it and has no devices until a good sample)."""

    def close(self) -> None: ...


BatteryProbe = Callable[[], "bool | None"]  # True: on battery; False: on mains; None: no battery / unknown


def psutil_battery() -> bool | None:
    import psutil

    battery = psutil.sensors_battery()
    if battery is None or battery.power_plugged is None:
        return None
    return not battery.power_plugged


@dataclass
class _State:
    devices: list[DeviceSample] | None = None
    sampled_at: float | None = None
    error: str | None = None
    reason: str | None = None
    battery: bool | None = None
    battery_at: float = field(default=-1e9)


class GpuMonitor:
    """Owns the sampler thread (only when a GPU is there) and answers the gates, status and batch_cap."""

    def __init__(
        self,
        config: GpuConfig,
        sampler: Sampler | None = None,
        battery: BatteryProbe = psutil_battery,
        busy: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.policy = GpuPolicy.from_config(config)
        self.sampler = sampler
        self.battery_probe = battery
        self.busy = busy
        self.clock = clock
        self.available: bool | None = None  # None: not started; False: no GPU ("none")
        self.unavailable_reason: str | None = None
        self._state = _State()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_log = -1e9
        self._shown: dict[str, tuple[Verdict, float] | None] = {}
        self._cause: str | None = None

    def start(self) -> None:
        if not self.config.enabled:
            self.available = False
            return
        if self.sampler is None:
            from daemon.gpu.nvml import NvmlSampler

            self.sampler = NvmlSampler()
        problem = self.sampler.open()
        if problem:
            self.available, self.unavailable_reason = False, problem
            log.info(
                "no GPU: %s; the engine runs on CPU", problem, extra={"event": "gpu_unavailable", "detail": problem}
            )
            return
        self.available = True
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="gpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.available and self.sampler is not None:
            self.sampler.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.config.sample_seconds):
            self.tick()

    def tick(self) -> None:
        """One round of the sampler thread: sample, and log the sample once a minute while jobs are running."""
        self.refresh()
        if self.clock() - self._last_log >= LOG_EVERY_SECONDS and self._busy():
            self._last_log = self.clock()
            log.info("gpu sample", extra={"event": "gpu_sample", "detail": self.status()})

    def _busy(self) -> bool:
        try:
            return self.busy()
        except Exception:  # noqa: BLE001 - a locked database must not stop sampling
            return False

    def refresh(self) -> None:
        """Take one sample now (the thread calls this every `sample_seconds`; tests call it directly)."""
        assert self.sampler is not None
        try:
            devices, error = self.sampler.sample(), None
        except Exception as exc:  # noqa: BLE001 - NVML errors (GPU lost, driver reload) are reported, not fatal
            devices, error = None, f"{type(exc).__name__}: {exc}"
        with self._lock:
            if error and error != self._state.error:
                log.warning("GPU sampling failed: %s", error, extra={"event": "gpu_sample_failed", "error": error})
            self._state.devices, self._state.error, self._state.sampled_at = devices, error, time.time()
        self.reason()

    def on_battery(self) -> bool | None:
        if not (self.config.enabled and self.config.pause_on_battery):
            return None
        with self._lock:
            if self.clock() - self._state.battery_at >= self.config.sample_seconds:
                try:
                    self._state.battery = self.battery_probe()
                except Exception:  # noqa: BLE001 - no battery information is "no battery"
                    self._state.battery = None
                self._state.battery_at = self.clock()
            return self._state.battery

    def reason(self, work: str = "heavy work") -> str | None:
        """Why heavy work waits now, or None. While the cause stays the same (same kind, same programs) the text
        is refreshed at most every REFRESH_SECONDS: every new text rewrites the reason of each waiting job."""
        if not self.config.enabled:
            return None
        on_battery = self.on_battery()
        with self._lock:
            devices = self._state.devices
        verdict = self.policy.verdict(devices, on_battery, work)
        now = self.clock()
        with self._lock:
            shown = self._shown.get(work)
            same_cause = verdict is not None and shown is not None and shown[0].key == verdict.key
            if same_cause and shown is not None and now - shown[1] < REFRESH_SECONDS:
                return shown[0].text
            self._shown[work] = (verdict, now) if verdict is not None else None
            previous, self._state.reason = self._state.reason, (verdict.text if verdict else None)
            previous_key, self._cause = self._cause, (verdict.key[0] if verdict else None)
        if verdict is not None and verdict.key[0] != previous_key:
            log.info("heavy work waits: %s", verdict.text, extra={"event": "gpu_yield", "detail": verdict.text})
        elif verdict is None and previous_key is not None:
            log.info("heavy work may run again", extra={"event": "gpu_resume", "detail": previous})
        return None if verdict is None else verdict.text

    def gate(self, stage: Stage) -> str | None:
        """Pipeline gate: heavy stages wait while the GPU is busy, hot, or the machine is on battery."""
        if not stage.heavy:
            return None
        return self.reason("tagging" if stage.name == "tag" else f"the {stage.name} stage")

    def batch_cap(self, bytes_per_image: int) -> int | None:
        """Most images per CUDA batch: within `memory_budget_mb` and the watched GPU's free memory (plus what
        the engine already holds there). None = no cap (no GPU seen). Never below 1."""
        if not self.config.enabled or not self.available:
            return None
        with self._lock:
            device = self.policy.watched(self._state.devices)
        limits = []
        if self.config.memory_budget_mb > 0:
            limits.append(self.config.memory_budget_mb * MiB)
        if device is not None and device.memory_total and device.memory_used is not None:
            own = sum(p.memory_bytes or 0 for p in device.processes if p.own)
            limits.append(max(0, device.memory_total - device.memory_used) + own)
        if not limits:
            return None
        return max(1, min(limits) // max(1, bytes_per_image))

    def status(self) -> Any:
        """The `gpu` value of `status --json`: "none" without a GPU, "disabled" when turned off, else a dict."""
        if not self.config.enabled:
            return "disabled"
        if not self.available:
            return "none"
        with self._lock:
            state = _State(**vars(self._state))
        devices = [_device_json(device) for device in state.devices or []]
        return {
            "driver": getattr(self.sampler, "driver", None),
            "devices": devices,
            "watched": self.policy.device,
            "waiting": state.reason,
            "on_battery": state.battery,
            "memory_budget_mb": self.config.memory_budget_mb,
            "sampled_at": datetime.fromtimestamp(state.sampled_at).isoformat(timespec="seconds")
            if state.sampled_at
            else None,
            "error": state.error,
            "summary": "; ".join(d["summary"] for d in devices) or state.error or "no devices",
        }


def _device_json(device: DeviceSample) -> dict[str, Any]:
    data = asdict(device)
    data["memory_used_mb"] = None if device.memory_used is None else round(device.memory_used / MiB)
    data["memory_total_mb"] = None if device.memory_total is None else round(device.memory_total / MiB)
    del data["memory_used"], data["memory_total"]
    for process in data["processes"]:
        memory = process.pop("memory_bytes")
        process["memory_mb"] = None if memory is None else round(memory / MiB)
    share, _ = other_memory_share(device)
    busy, _ = other_utilisation(device)
    data["others_memory_share"] = None if share is None else round(share, 3)
    data["others_utilisation"] = busy
    parts = [device.name]
    if device.utilisation is not None:
        parts.append(f"{device.utilisation}% busy")
    if device.memory_used is not None and device.memory_total:
        parts.append(f"{device.memory_used / 2**30:.1f}/{device.memory_total / 2**30:.0f} GiB")
    if device.temperature_c is not None:
        parts.append(f"{device.temperature_c:.0f}°C")
    if device.power_w is not None:
        parts.append(f"{device.power_w:.0f} W")
    data["summary"] = ", ".join(parts)
    return data


_active: GpuMonitor | None = None


def install(monitor: GpuMonitor | None) -> None:
    """Make `monitor` the one `batch_cap()` asks (App does this at start; None at shutdown)."""
    global _active
    _active = monitor


def batch_cap(bytes_per_image: int) -> int | None:
    """For the tag stage on CUDA: the most images per batch that fit `[gpu] memory_budget_mb` and the free
    GPU memory, or None (no cap: no GPU monitored). Estimate `bytes_per_image` from the input tensor and
    activations; after a CUDA out-of-memory, halve the batch and log the event `oom_batch_halved`."""
    monitor = _active
    return None if monitor is None else monitor.batch_cap(bytes_per_image)
