"""GPU monitor: the no-driver path with the real NVML library and the real engine, the policies through a
scripted sampler (the one fake: no GPU here), and the gate holding a heavy stage's jobs in `waiting` on a
real SQLite queue with a real worker thread until the GPU is free again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from daemon.config import GpuConfig
from daemon.gpu import monitor as gpu
from daemon.gpu.monitor import DeviceSample, GpuMonitor, GpuProcess
from daemon.pipeline.base import Stage
from tests.gates_support import heavy_pipeline

GiB = 2**30


class ScriptedSampler:
    """Stands in for NVML on a machine without a GPU: returns the devices the test sets."""

    driver = "scripted"

    def __init__(self, *devices: DeviceSample):
        self.devices = list(devices)

    def open(self) -> str | None:
        return None

    def sample(self) -> list[DeviceSample]:
        return list(self.devices)

    def close(self) -> None:
        pass


def card(*processes: GpuProcess, utilisation: int = 0, used: int | None = None, celsius: float = 45.0) -> DeviceSample:
    """An 80 GiB card as NVML reports it (shape recorded on an H100, driver 580)."""
    if used is None:
        used = GiB // 2 + sum(p.memory_bytes or 0 for p in processes)
    return DeviceSample(
        index=0,
        name="NVIDIA H100 80GB HBM3",
        utilisation=utilisation,
        memory_used=used,
        memory_total=80 * GiB,
        temperature_c=celsius,
        power_w=120.0,
        power_limit_w=700.0,
        processes=processes,
        per_process_utilisation=True,
    )


def blender(share: float, sm: int = 0) -> GpuProcess:
    return GpuProcess(pid=4242, name="blender", memory_bytes=int(share * 80 * GiB), sm_percent=sm)


def ours(gib: float, sm: int = 0) -> GpuProcess:
    return GpuProcess(pid=os.getpid(), name="python", memory_bytes=int(gib * GiB), sm_percent=sm, own=True)


def monitor_for(sampler: ScriptedSampler, **settings: Any) -> GpuMonitor:
    monitor = GpuMonitor(replace(GpuConfig(), **settings), sampler, battery=lambda: None)
    monitor.start()
    return monitor


class Tag(Stage):
    name, heavy = "tag", True


def test_without_a_driver_the_real_nvml_says_none_and_nothing_polls(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    import pynvml

    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver; the no-driver path is what this test checks")
    except pynvml.NVMLError:
        pass
    caplog.set_level(logging.INFO, logger="image_engine")
    monitor = GpuMonitor(GpuConfig())
    monitor.start()
    try:
        assert monitor.status() == "none"
        assert "no NVIDIA driver" in (monitor.unavailable_reason or "")
        assert "gpu-sampler" not in [thread.name for thread in threading.enumerate()]
        assert monitor.gate(Tag()) is None and monitor.batch_cap(50 * 2**20) is None
        assert [r.event for r in caplog.records if getattr(r, "event", "").startswith("gpu")] == ["gpu_unavailable"]
    finally:
        monitor.stop()


def test_engine_status_json_shows_gpu_none_and_logs_it_once(engine_factory: Any) -> None:
    engine = engine_factory()
    assert engine.status()["gpu"] == "none"
    engine.stop()
    events = [
        json.loads(line)["event"] for line in (engine.data / "logs" / "image-engine.log").read_text().splitlines()
    ]
    assert events.count("gpu_unavailable") == 1
    assert "gpu_sample" not in events


def test_yields_to_another_program_using_gpu_memory_and_resumes_when_it_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="image_engine")
    sampler = ScriptedSampler(card(blender(0.71)))
    monitor = monitor_for(sampler)
    try:
        assert monitor.gate(Tag()) == (
            "GPU busy: another program (blender, pid 4242) uses 71% of GPU memory; tagging resumes when it drops"
        )
        assert monitor.status()["waiting"].startswith("GPU busy: another program (blender, pid 4242)")
        sampler.devices = [card(blender(0.05))]
        monitor.refresh()
        assert monitor.gate(Tag()) is None
        assert monitor.status()["waiting"] is None
        events = [getattr(record, "event", None) for record in caplog.records]
        assert [event for event in events if event in ("gpu_yield", "gpu_resume")] == ["gpu_yield", "gpu_resume"]
    finally:
        monitor.stop()


def test_reason_text_stays_put_while_the_same_program_holds_the_gpu() -> None:
    """Each new text rewrites every waiting job's reason: figures refresh once a minute, a new cause at once."""
    clock = {"now": 0.0}
    sampler = ScriptedSampler(card(blender(0.71)))
    monitor = GpuMonitor(GpuConfig(), sampler, battery=lambda: None, clock=lambda: clock["now"])
    monitor.start()
    try:
        assert "uses 71% of GPU memory" in (monitor.gate(Tag()) or "")
        sampler.devices = [card(blender(0.74))]
        monitor.refresh()
        assert "uses 71% of GPU memory" in (monitor.gate(Tag()) or "")
        clock["now"] += 61
        assert "uses 74% of GPU memory" in (monitor.gate(Tag()) or "")
        sampler.devices = [card(GpuProcess(pid=99, name="game", memory_bytes=40 * GiB))]
        monitor.refresh()
        assert (monitor.gate(Tag()) or "").startswith("GPU busy: another program (game, pid 99) uses 50%")
    finally:
        monitor.stop()


def test_the_sample_is_logged_once_a_minute_while_jobs_run(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="image_engine")
    clock = {"now": 1000.0}
    running = {"jobs": True}
    monitor = GpuMonitor(
        GpuConfig(),
        ScriptedSampler(card()),
        battery=lambda: None,
        busy=lambda: running["jobs"],
        clock=lambda: clock["now"],
    )
    monitor.start()
    try:
        for step, jobs in ((0, True), (30, True), (31, True), (60, False), (1, True)):
            clock["now"] += step
            running["jobs"] = jobs
            monitor.tick()
        logged = [r for r in caplog.records if getattr(r, "event", None) == "gpu_sample"]
        assert len(logged) == 3  # at 1000, 1061 and 1122; not at 1030, and not while idle at 1121
        assert logged[0].detail["devices"][0]["name"] == "NVIDIA H100 80GB HBM3"
    finally:
        monitor.stop()


def test_light_stages_are_never_held() -> None:
    monitor = monitor_for(ScriptedSampler(card(blender(0.9), celsius=95)))
    try:
        assert monitor.gate(Stage()) is None
        assert monitor.gate(Tag()) is not None
    finally:
        monitor.stop()


def test_our_own_memory_and_work_never_count_as_another_program() -> None:
    monitor = monitor_for(ScriptedSampler(card(ours(60, sm=97), blender(0.1, sm=2), utilisation=99)))
    try:
        assert monitor.gate(Tag()) is None
        device = monitor.status()["devices"][0]
        assert device["others_memory_share"] == pytest.approx(0.1, abs=0.001)
        assert device["others_utilisation"] == 2
    finally:
        monitor.stop()


def test_yields_to_another_program_keeping_the_gpu_busy() -> None:
    sampler = ScriptedSampler(card(blender(0.02, sm=85), ours(1, sm=10), utilisation=95))
    monitor = monitor_for(sampler)
    try:
        assert monitor.gate(Tag()) == (
            "GPU busy: another program (blender, pid 4242) keeps the GPU 85% busy; tagging resumes when it drops"
        )
        # Without per-process figures the total cannot be split while we run: no yield on a guess.
        sampler.devices = [replace(card(blender(0.02), ours(1), utilisation=95), per_process_utilisation=False)]
        monitor.refresh()
        assert monitor.gate(Tag()) is None
        # ...but when we are not on the GPU, all of its activity is someone else's.
        sampler.devices = [replace(card(blender(0.02), utilisation=95), per_process_utilisation=False)]
        monitor.refresh()
        assert "keeps the GPU 95% busy" in (monitor.gate(Tag()) or "")
    finally:
        monitor.stop()


def test_unreadable_process_memory_falls_back_to_the_device_total() -> None:
    hidden = GpuProcess(pid=77, name=None, memory_bytes=None)
    monitor = monitor_for(ScriptedSampler(card(hidden, ours(4), used=40 * GiB)))
    try:
        assert monitor.gate(Tag()) == (
            "GPU busy: another program (pid 77) uses 45% of GPU memory; tagging resumes when it drops"
        )
    finally:
        monitor.stop()


def test_host_pid_we_cannot_see_is_not_counted_while_we_hold_cuda() -> None:
    unseen = GpuProcess(pid=991234, name=None, memory_bytes=40 * GiB, visible=False)
    sampler = ScriptedSampler(replace(card(unseen), own_cuda=True))
    monitor = monitor_for(sampler)
    try:
        assert monitor.gate(Tag()) is None
        sampler.devices = [card(unseen)]
        monitor.refresh()
        assert monitor.gate(Tag()) == (
            "GPU busy: another program (pid 991234) uses 50% of GPU memory; tagging resumes when it drops"
        )
    finally:
        monitor.stop()


def test_pauses_when_the_gpu_is_too_hot() -> None:
    sampler = ScriptedSampler(card(celsius=91))
    monitor = monitor_for(sampler, pause_above_celsius=85.0)
    try:
        assert monitor.gate(Tag()) == "GPU too hot: 91°C (limit 85°C); tagging resumes when it cools down"
        sampler.devices = [card(celsius=70)]
        monitor.refresh()
        assert monitor.gate(Tag()) is None
    finally:
        monitor.stop()


def test_pauses_on_battery_even_without_a_gpu() -> None:
    class NoDriver(ScriptedSampler):
        def open(self) -> str | None:
            return "no NVIDIA driver (scripted)"

    battery = {"on": True}
    clock = {"now": 0.0}
    config = replace(GpuConfig(), pause_on_battery=True, sample_seconds=5.0)
    monitor = GpuMonitor(config, NoDriver(), battery=lambda: battery["on"], clock=lambda: clock["now"])
    monitor.start()
    try:
        assert monitor.status() == "none"
        assert monitor.gate(Tag()) == "on battery power; tagging resumes when the charger is plugged in"
        battery["on"] = False
        assert monitor.gate(Tag()) is not None  # the battery is read at most once per sample_seconds
        clock["now"] += 5.0
        assert monitor.gate(Tag()) is None
        battery["on"] = None  # a desktop: no battery at all
        clock["now"] += 5.0
        assert monitor.gate(Tag()) is None
    finally:
        monitor.stop()
    ignored = GpuMonitor(replace(config, pause_on_battery=False), NoDriver(), battery=lambda: True)
    ignored.start()
    assert ignored.gate(Tag()) is None


def test_memory_budget_caps_the_batch() -> None:
    sampler = ScriptedSampler(card(used=10 * GiB))
    monitor = monitor_for(sampler, memory_budget_mb=2048)
    gpu.install(monitor)
    try:
        assert gpu.batch_cap(100 * 2**20) == 20
        assert gpu.batch_cap(3 * GiB) == 1  # never below one image
        # Free GPU memory caps too: 1 GiB free, plus the 2 GiB the engine already holds.
        sampler.devices = [card(ours(2), used=79 * GiB)]
        monitor.refresh()
        assert gpu.batch_cap(100 * 2**20) == 20
        sampler.devices = [card(ours(0.5), used=int(79.5 * GiB))]
        monitor.refresh()
        assert gpu.batch_cap(100 * 2**20) == 10
    finally:
        gpu.install(None)
        monitor.stop()
    assert gpu.batch_cap(100 * 2**20) is None  # no monitor installed: no cap
    no_budget = monitor_for(ScriptedSampler(card(used=40 * GiB)))
    assert no_budget.batch_cap(GiB) == 40  # only the free memory limits


def test_gpu_gate_holds_heavy_jobs_waiting_then_runs_them(tmp_path: Path) -> None:
    sampler = ScriptedSampler(card(blender(0.71)))
    monitor = monitor_for(sampler)
    try:
        with heavy_pipeline(tmp_path, [monitor.gate]) as rig:
            waiting = rig.all_in("waiting", "heavy jobs waiting while another program fills the GPU")
            assert {job["stage"] for job in waiting} == {"crunch"}  # the light stage ran
            assert {job["wait_reason"] for job in waiting} == {
                "GPU busy: another program (blender, pid 4242) uses 71% of GPU memory;"
                " the crunch stage resumes when it drops"
            }
            sampler.devices = [card(blender(0.02))]
            monitor.refresh()
            done = rig.all_in("done", "jobs done after the GPU freed")
            assert {job["path"] for job in done} == set(rig.paths)
    finally:
        monitor.stop()
