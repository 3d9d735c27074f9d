"""What the real NVML sampler sees, and what `status --json` would show for `gpu`, as one JSON object.

Optional checks on a machine with an NVIDIA driver (CUDA driver API through ctypes, no torch needed):
  --other-mb N   a child process holds N MiB of GPU memory: the yield policy should name it
  --busy S       that child also keeps the GPU busy for S seconds (memset loop): utilisation not ours
  --own-mb N     this process holds N MiB: it must be recognised as the engine's own, never as "another program"
(The helper processes are started by pid and end by themselves.)
Usage: python -m bench.gpu_probe [--other-mb 30000] [--busy 6] [--own-mb 512] [--share 0.3]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import psutil

from daemon.config import GpuConfig
from daemon.gpu.monitor import GpuMonitor


class CudaMemory:
    """A CUDA context holding `mb` MiB through libcuda (comes with the driver)."""

    def __init__(self, mb: int):
        self.cuda = ctypes.CDLL("libcuda.so.1")
        self.check(self.cuda.cuInit(0), "cuInit")
        device, self.context, self.pointer = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
        self.check(self.cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
        self.check(self.cuda.cuCtxCreate_v2(ctypes.byref(self.context), 0, device), "cuCtxCreate")
        self.size = mb * 2**20
        self.check(self.cuda.cuMemAlloc_v2(ctypes.byref(self.pointer), ctypes.c_size_t(self.size)), "cuMemAlloc")

    def check(self, code: int, what: str) -> None:
        if code != 0:
            raise RuntimeError(f"{what} failed with CUDA error {code}")

    def churn(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.cuda.cuMemsetD8_v2(self.pointer, 1, ctypes.c_size_t(self.size))
            self.cuda.cuCtxSynchronize()


def hold(mb: int, busy: float, signal_file: Path) -> None:
    """Holder mode: allocate, say so in `signal_file`, churn if asked, hold until that file is deleted."""
    memory = CudaMemory(mb)
    signal_file.write_text(f"ready {os.getpid()}")
    if busy:
        memory.churn(busy)
    deadline = time.monotonic() + 120
    while signal_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def start_stranger(mb: int, busy: float, signal_file: Path) -> int:
    """Start the holder as an orphan (sh forks it and exits), so it is not the probe's descendant: the
    engine counts its own children as its own, and this one must look like another program."""
    command = f"{sys.executable} -m bench.gpu_probe --hold {mb} --busy {busy} --signal {signal_file} &"
    subprocess.run(["sh", "-c", command], check=True, cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if signal_file.exists() and signal_file.read_text().startswith("ready"):
            return int(signal_file.read_text().split()[1])
        time.sleep(0.1)
    raise RuntimeError("the GPU-holding process did not start")


def reading(monitor: GpuMonitor) -> dict[str, Any]:
    started = time.perf_counter()
    monitor.refresh()
    ms = (time.perf_counter() - started) * 1000
    return {"sample_ms": round(ms, 2), "status_gpu": monitor.status(), "policy_reason": monitor.reason("tagging")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--other-mb", type=int, default=0)
    parser.add_argument("--busy", type=float, default=0.0)
    parser.add_argument("--own-mb", type=int, default=0)
    parser.add_argument("--share", type=float, default=0.3, help="[gpu] yield_above_share to judge with")
    parser.add_argument("--hold", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--signal", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        hold(args.hold, args.busy, args.signal)
        return
    nspid = next((line.split()[1:] for line in _proc_status() if line.startswith("NSpid:")), None)
    config = replace(GpuConfig(), yield_above_share=args.share, sample_seconds=1.0)
    monitor = GpuMonitor(config)
    monitor.start()
    figures: dict[str, Any] = {"pid": os.getpid(), "nspid": nspid, "gpu_unavailable": monitor.unavailable_reason}
    if not monitor.available:
        figures["status_gpu"] = monitor.status()
        print(json.dumps(figures, indent=2, default=str))
        return
    figures["driver"] = monitor.sampler.driver
    figures["idle"] = reading(monitor)
    figures["raw_devices"] = [asdict(device) for device in monitor._state.devices or []]
    figures["batch_cap_50mb_per_image"] = monitor.batch_cap(50 * 2**20)
    if args.other_mb:
        with tempfile.TemporaryDirectory() as folder:
            signal_file = Path(folder) / "holder"
            pid = start_stranger(args.other_mb, args.busy, signal_file)
            try:
                time.sleep(1.5)
                figures["other_process"] = {"pid": pid, "mb": args.other_mb, **reading(monitor)}
                if args.busy:
                    time.sleep(min(args.busy / 2, 3))
                    figures["other_process_busy"] = reading(monitor)
            finally:
                signal_file.unlink(missing_ok=True)
            deadline = time.monotonic() + 30 + args.busy
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        time.sleep(1.5)
        figures["after_other_exits"] = reading(monitor)
    if args.own_mb:
        own = CudaMemory(args.own_mb)
        time.sleep(1)
        figures["own_allocation"] = {"mb": args.own_mb, **reading(monitor)}
        figures["own_allocation"]["batch_cap_50mb_per_image"] = monitor.batch_cap(50 * 2**20)
        figures["own_allocation"]["context_kept"] = own.size
    monitor.stop()
    print(json.dumps(figures, indent=2, default=str))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _proc_status() -> list[str]:
    path = Path("/proc/self/status")
    return path.read_text().splitlines() if path.exists() else []


if __name__ == "__main__":
    main()
