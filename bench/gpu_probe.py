"""What the real NVML sampler sees, and what `status --json` would show for `gpu`, as one JSON object.

Optional checks on a machine with an NVIDIA driver (CUDA driver API through ctypes, no torch needed):
  --other-mb N   a child process holds N MiB of GPU memory: the yield policy should name it
  --busy S       that child also keeps the GPU busy for S seconds (memset loop): utilisation not ours
  --own-mb N     this process holds N MiB: it must be recognised as the engine's own, never as "another program"
Usage: python -m bench.gpu_probe [--other-mb 30000] [--busy 6] [--own-mb 512] [--share 0.3]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from daemon.config import GpuConfig
from daemon.gpu import GpuMonitor


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


def hold(mb: int, busy: float) -> None:
    """Child mode: allocate, say so, churn if asked, then hold until stdin closes."""
    memory = CudaMemory(mb)
    print("ready", flush=True)
    if busy:
        memory.churn(busy)
    sys.stdin.read()


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
    args = parser.parse_args()
    if args.hold:
        hold(args.hold, args.busy)
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
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.gpu_probe", "--hold", str(args.other_mb), "--busy", str(args.busy)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            time.sleep(1.5)
            figures["other_process"] = {"pid": child.pid, "mb": args.other_mb, **reading(monitor)}
            if args.busy:
                time.sleep(min(args.busy / 2, 3))
                figures["other_process_busy"] = reading(monitor)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
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


def _proc_status() -> list[str]:
    path = Path("/proc/self/status")
    return path.read_text().splitlines() if path.exists() else []


if __name__ == "__main__":
    main()
