"""The control API's vocabulary, shared by the engine, the CLI and the tray: paths, payloads, discovery.

Plain dataclasses and JSON only; importing this pulls in nothing heavy.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

API = "/v1"
# A control API route: (query, JSON body) -> (HTTP status, JSON payload). Served by daemon/control/server.py.
Handler = Callable[[dict[str, str], dict[str, Any]], tuple[int, Any]]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
TOKEN_FILE = "token"
ENDPOINT_FILE = "control.json"


@dataclass
class Endpoint:
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API}"


@dataclass
class Status:
    state: str
    jobs: dict[str, int]
    files: int
    errors: list[dict[str, Any]]
    uptime: float
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    watching: list[dict[str, Any]] = field(default_factory=list)
    data_dir: str = ""
    library: str = ""
    log_path: str = ""
    done_today: int = 0
    gpu: Any = "none"
    version: str = ""
    learning: dict[str, Any] = field(default_factory=dict)  # taught keywords: training / applying, progress
    backfill: dict[str, Any] = field(default_factory=dict)  # the executor (local or Ray, with its nodes), progress

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def ensure_token(data_dir: Path) -> str:
    """The token clients must present; created on first start, permissions repaired if too open."""
    path = data_dir / TOKEN_FILE
    if path.exists():
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 32:
            return token
    token = secrets.token_urlsafe(32)
    write_private(path, token + "\n")
    return token


def read_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def write_endpoint(data_dir: Path, endpoint: Endpoint) -> None:
    write_private(data_dir / ENDPOINT_FILE, json.dumps(asdict(endpoint)))


def read_endpoint(data_dir: Path) -> Endpoint | None:
    try:
        return Endpoint(**json.loads((data_dir / ENDPOINT_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
