"""Where a transformers model lives: a local folder or a Hugging Face hub name, and whether it can be loaded now.

`missing_reason` answers without importing anything heavy (it reads the hub cache layout itself); `fetch`
downloads a hub model on first use, logging its progress.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from daemon.ml.base import ModelMissing

log = logging.getLogger("image_engine.ml")

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# What snapshot_download fetches: config, tokenizer, preprocessing and safetensors weights (not .bin/.h5/.msgpack).
DOWNLOAD_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors", "*.safetensors.index.json"]
_PROBE_SECONDS = 300.0
_probe_cache: dict[str, tuple[float, bool]] = {}


def is_local(name: str) -> bool:
    """A folder path, as opposed to a hub name such as "openai/clip-vit-base-patch32"."""
    if not name:
        return False
    if name.startswith(("/", "~", ".", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return True
    return name.count("/") > 1 or Path(name).expanduser().is_dir()


def local_path(name: str) -> Path:
    return Path(os.path.expandvars(name)).expanduser().resolve()


def hub_cache_dir() -> Path:
    """The hub cache huggingface_hub uses, from the environment at call time (HF_HUB_CACHE, HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def offline() -> bool:
    return any(
        os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def cached_snapshot(name: str) -> Path | None:
    """The cached snapshot folder of a hub model (config and weights present), or None."""
    repo = hub_cache_dir() / ("models--" + name.replace("/", "--"))
    ref = repo / "refs" / "main"
    candidates: list[Path] = []
    if ref.is_file():
        candidates.append(repo / "snapshots" / ref.read_text(encoding="utf-8").strip())
    snapshots = repo / "snapshots"
    if snapshots.is_dir():
        candidates.extend(sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True))
    for snapshot in candidates:
        if (snapshot / "config.json").is_file() and any((snapshot / weights).exists() for weights in WEIGHT_FILES):
            return snapshot
    return None


def hub_reachable() -> bool:
    """A short TCP probe of the hub endpoint, remembered for a few minutes."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    now = time.monotonic()
    cached = _probe_cache.get(host)
    if cached and now - cached[0] < _PROBE_SECONDS:
        return cached[1]
    try:
        with socket.create_connection((host, 443), timeout=3):
            reachable = True
    except OSError:
        reachable = False
    _probe_cache[host] = (now, reachable)
    return reachable


def missing_reason(name: str, key: str, what: str) -> str | None:
    """None when `name` can be loaded now (local folder complete, hub model cached or downloadable), else the fix.

    `key` is the config key that names the model (e.g. "[tagging] model"), `what` says what kind of model it is.
    """
    if is_local(name):
        folder = local_path(name)
        if not folder.is_dir():
            return (
                f"{what} folder {folder} does not exist: set {key} to a folder holding config.json and"
                f" model.safetensors (e.g. made on a connected machine with `hf download NAME --local-dir {folder}`)"
            )
        if not (folder / "config.json").is_file():
            return f"{what} folder {folder} has no config.json: it must be a saved transformers model ({key})"
        if not any((folder / weights).exists() for weights in WEIGHT_FILES):
            return f"{what} folder {folder} has no weights (model.safetensors or pytorch_model.bin) ({key})"
        return None
    if cached_snapshot(name) is not None:
        return None
    fix = (
        f"download it once on a machine with internet with `hf download {name}` (older huggingface_hub:"
        f" `huggingface-cli download {name}`) and copy the cache folder {hub_cache_dir()} here, or set {key} to"
        " a local folder holding the model"
    )
    if offline():
        return f"{what} {name!r} is not in the Hugging Face cache ({hub_cache_dir()}) and HF_HUB_OFFLINE is set: {fix}"
    if not hub_reachable():
        return f"{what} {name!r} is not in the Hugging Face cache ({hub_cache_dir()}) and the hub is unreachable: {fix}"
    return None


def fetch(name: str) -> Path:
    """The folder to load `name` from: the local folder, the cached snapshot, or a fresh download (logged)."""
    if is_local(name):
        return local_path(name)
    snapshot = cached_snapshot(name)
    if snapshot is not None:
        return snapshot
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import tqdm as hub_tqdm

    class LoggedProgress(hub_tqdm):  # type: ignore[misc,valid-type]
        """Logs every 10 % of the files fetched, besides the console bar."""

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self.total:
                tenth = int(10 * self.n / self.total)
                if tenth != getattr(self, "_last_tenth", -1):
                    self._last_tenth = tenth
                    log.info(
                        "model download progress",
                        extra={"event": "model_download", "detail": f"{name}: {self.n}/{self.total} files"},
                    )
            return shown

    started = time.monotonic()
    log.info("downloading model (first use)", extra={"event": "model_download", "detail": name})
    folder = snapshot_download(name, allow_patterns=DOWNLOAD_PATTERNS, tqdm_class=LoggedProgress)
    log.info(
        "model downloaded",
        extra={"event": "model_downloaded", "detail": name, "ms": round(1000 * (time.monotonic() - started))},
    )
    return Path(str(folder))


def fingerprint(folder: Path) -> str:
    """Identifies the weights in a folder (names, sizes and mtimes), so caches follow a replaced model."""
    parts = []
    for weights in WEIGHT_FILES + ("config.json",):
        path = folder / weights
        if path.exists():
            stat = path.stat()
            parts.append(f"{weights}:{stat.st_size}:{int(stat.st_mtime)}")
    return ";".join(parts)


def load_pretrained(auto_class: Any, name: str, device: str, what: str, key: str) -> tuple[Any, Any, Path]:
    """(model in eval mode on `device`, fp16 on CUDA; its tokenizer; the folder) for a hub name or a folder.

    `what` and `key` name the model and its config key in the error, e.g. "CLIP model", "[tagging] model"."""
    import torch
    from transformers import AutoTokenizer

    folder = fetch(name)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    try:
        model = auto_class.from_pretrained(folder, dtype=dtype).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise ModelMissing(f"cannot load {what} from {folder} ({key}): {exc}") from exc
    return model, tokenizer, folder
