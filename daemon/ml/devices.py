"""Which accelerator is really there, and the GPU housekeeping the session needs, without importing torch early.

torch is imported only when a torch backend asks for a device; pynvml answers "is there an NVIDIA GPU" cheaply.
"""

from __future__ import annotations

import contextlib
import sys


def torch_device(wanted: str) -> str:
    """`[tagging] device` -> "cpu" or "cuda" for a torch backend ("auto": cuda when torch.cuda.is_available())."""
    if wanted == "cpu":
        return "cpu"
    import torch

    if wanted == "cuda" or torch.cuda.is_available():
        return "cuda"
    return "cpu"


def nvidia_gpu_present() -> bool:
    """An NVIDIA driver answers and reports at least one GPU (pynvml; no CUDA runtime is loaded)."""
    try:
        import pynvml
    except ImportError:
        return False
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    try:
        return pynvml.nvmlDeviceGetCount() > 0
    except pynvml.NVMLError:
        return False
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def torch_device_name(device: str) -> str:
    """ "cuda:0 (NVIDIA H100 80GB HBM3)" or "cpu": what is logged and shown by `image-engine models`."""
    if device != "cuda":
        return "cpu"
    import torch

    index = torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA (torch) or onnxruntime allocation failure: the batch was too big for the GPU memory free now."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return "out of memory" in text or "failed to allocate memory" in text


def release_gpu_memory() -> None:
    """Give torch's cached CUDA blocks back to the driver (no-op when torch was never imported or saw no GPU)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    with contextlib.suppress(Exception):
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()


def imported_frameworks() -> dict[str, bool]:
    """Which heavy frameworks this process has imported (an idle engine has none)."""
    return {name: name in sys.modules for name in ("torch", "transformers", "onnxruntime")}
