"""The exception family of the engine.

Stages raise these so the worker knows whether to fail, retry, or wait for the world.
"""

from __future__ import annotations

# Exit codes of `image-engine`: 0 ok, 1 runtime failure, 2 bad config or usage, 3 service not reachable.
EXIT_RUNTIME, EXIT_CONFIG, EXIT_UNREACHABLE = 1, 2, 3


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(EngineError):
    """One or more problems in a config file; each line names file, key and value."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class StageError(EngineError):
    """A stage could not finish a job; the message is for the user."""


class PermanentError(StageError):
    """The file itself is the problem (corrupt, unsupported): fail now, retry only when it changes."""


class GoneError(PermanentError):
    """The file is no longer at its path (deleted, or moved before its job ran): it is marked missing, not failed."""


class RetryableError(StageError):
    """A passing problem (locked file, busy tool): retry with back-off up to the attempt limit."""


class WaitingError(StageError):
    """A cause outside the file (model missing, GPU busy, paused): wait, never count as a failure."""

    def __init__(self, reason: str, retry_after: float = 30.0):
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)


class StoreError(EngineError):
    """The database cannot be opened or written (locked, read-only, disk full)."""
