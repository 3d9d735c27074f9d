"""The real GPU sampler: NVML through nvidia-ml-py (import name `pynvml`), imported only when the monitor starts.

Every reading is optional: a field the GPU or driver does not support is None, never an error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from daemon.gpu.policy import DeviceSample, GpuProcess


def is_own_process(pid: int) -> bool:
    """The engine or one of its descendants (a helper process of ours is never "another program").
    Walks the parent chain of that one pid: cheap even beside a desktop's always-listed graphics processes."""
    me = os.getpid()
    if pid == me:
        return True
    try:
        import psutil

        return any(parent.pid == me for parent in psutil.Process(pid).parents())
    except Exception:  # noqa: BLE001 - gone, or not visible from here: not ours
        return False


def holds_cuda_context() -> bool:
    """True when the CUDA driver library is loaded in this process (a model on the GPU). NVML alone does not
    load it (but it does open /dev/nvidia-uvm, seen on an H100 with driver 580, so open files cannot tell)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any("libcuda.so" in line for line in maps)
    except OSError:
        return False


class NvmlSampler:
    def __init__(self, own: Callable[[int], bool] = is_own_process, cuda_open: Callable[[], bool] = holds_cuda_context):
        self.own = own
        self.cuda_open = cuda_open
        self.driver: str | None = None
        self.nvml: Any = None
        self._last_seen_us: dict[int, int] = {}

    def open(self) -> str | None:
        try:
            import pynvml
        except ImportError as exc:
            return f"nvidia-ml-py is not installed ({exc})"
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            return f"no NVIDIA driver ({exc})"
        self.nvml = pynvml
        self.driver = _text(_optional(pynvml.nvmlSystemGetDriverVersion))
        return None

    def close(self) -> None:
        if self.nvml is not None:
            _optional(self.nvml.nvmlShutdown)
            self.nvml = None

    def sample(self) -> list[DeviceSample]:
        nvml = self.nvml
        devices = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = _optional(nvml.nvmlDeviceGetMemoryInfo, handle)
            rates = _optional(nvml.nvmlDeviceGetUtilizationRates, handle)
            power = _optional(nvml.nvmlDeviceGetPowerUsage, handle)
            limit = _optional(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
            listed: dict[int, int | None] = {}
            for query in (nvml.nvmlDeviceGetComputeRunningProcesses, nvml.nvmlDeviceGetGraphicsRunningProcesses):
                for info in _optional(query, handle) or []:
                    known = listed.get(info.pid)
                    listed[info.pid] = info.usedGpuMemory if known is None else max(known, info.usedGpuMemory or 0)
            sm = self._process_utilisation(handle, index)
            processes = tuple(
                GpuProcess(
                    pid=pid,
                    name=self._name(pid),
                    memory_bytes=listed.get(pid),
                    sm_percent=None if sm is None else sm.get(pid, 0),
                    own=self.own(pid),
                    visible=_visible(pid),
                )
                for pid in sorted(set(listed) | set(sm or ()))
            )
            # Only an unrecognised pid we cannot see (old drivers report host pids inside containers) raises
            # the question whether it is the engine itself: then look whether CUDA is loaded here.
            unsure = not any(p.own for p in processes) and any(not p.visible for p in processes)
            devices.append(
                DeviceSample(
                    index=index,
                    name=_text(_optional(nvml.nvmlDeviceGetName, handle)) or f"GPU {index}",
                    utilisation=None if rates is None else int(rates.gpu),
                    memory_used=None if memory is None else int(memory.used),
                    memory_total=None if memory is None else int(memory.total),
                    temperature_c=_optional(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU),
                    power_w=None if power is None else power / 1000,
                    power_limit_w=None if limit is None else limit / 1000,
                    processes=processes,
                    per_process_utilisation=sm is not None,
                    own_cuda=unsure and self.cuda_open(),
                )
            )
        return devices

    def _process_utilisation(self, handle: Any, index: int) -> dict[int, int] | None:
        """pid -> % of GPU time since the last sample; {} when nobody ran; None when not supported."""
        nvml = self.nvml
        since = self._last_seen_us.get(index, int((time.time() - 10) * 1e6))
        self._last_seen_us[index] = int(time.time() * 1e6)
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, since)
        except nvml.NVMLError_NotFound:
            return {}
        except nvml.NVMLError:
            return None
        result: dict[int, int] = {}
        for sample in samples:
            result[sample.pid] = max(result.get(sample.pid, 0), int(sample.smUtil))
        return result

    def _name(self, pid: int) -> str | None:
        name = _text(_optional(self.nvml.nvmlSystemGetProcessName, pid))
        if not name:
            try:
                import psutil

                name = psutil.Process(pid).name()
            except Exception:  # noqa: BLE001 - another user's or another container's process
                return None
        return os.path.basename(name) or None


def _visible(pid: int) -> bool:
    try:
        import psutil

        return psutil.pid_exists(pid)
    except ImportError:
        return True


def _optional(function: Callable[..., Any], *args: Any) -> Any:
    """Call an NVML query; None when the GPU or driver does not support it or refuses it."""
    import pynvml

    try:
        return function(*args)
    except pynvml.NVMLError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
