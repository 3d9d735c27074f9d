"""A small HTTP client for the control API, used by the CLI and the tray.

Finds the service through control.json and the token file in the data folder; stdlib only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from daemon.control.protocol import read_endpoint, read_token


class ServiceUnreachable(Exception):
    """The service is not running, or not answering where control.json says."""


class ApiError(Exception):
    """The service refused or failed a request: str() is the service's sentence, the HTTP status is in .status."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class ControlClient:
    def __init__(self, data_dir: Path, timeout: float = 5.0, token: str | None = None):
        self.data_dir = data_dir
        self.timeout = timeout
        self.token = token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        endpoint = read_endpoint(self.data_dir)
        if endpoint is None:
            raise ServiceUnreachable(f"the service is not running (no {self.data_dir / 'control.json'})")
        token = self.token if self.token is not None else read_token(self.data_dir)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(endpoint.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = str(exc.reason)
            if exc.code == 401 and self.token is None:
                message = (
                    f"the service refused the token in {self.data_dir / 'token'} (missing or not the running"
                    " service's): restart the service to write it again, or check that --config names its config"
                )
            raise ApiError(exc.code, message) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            raise ServiceUnreachable(f"the service does not answer at {endpoint.url}: {exc}") from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body or {})
