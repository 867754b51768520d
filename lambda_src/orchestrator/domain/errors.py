"""Domain errors. Each carries a stable snake_case code; api.errors maps them to HTTP."""

from __future__ import annotations

from typing import Any


class MycliError(Exception):
    """Base class of every error a caller may see."""

    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(MycliError):
    code = "validation_error"


class Unauthorized(MycliError):
    code = "unauthorized"


class Forbidden(MycliError):
    code = "forbidden"


class NotFound(MycliError):
    code = "not_found"


class Conflict(MycliError):
    code = "conflict"


class LockHeld(Conflict):
    code = "lock_held"


class IdempotencyKeyReused(MycliError):
    """An Idempotency-Key already stands for a different request: nothing new started."""

    code = "idempotency_key_reused"


class TooLarge(MycliError):
    code = "payload_too_large"


class Throttled(MycliError):
    code = "throttled"


class QueueFull(Throttled):
    """A lock's queue is at its maximum length: the run is refused, not queued."""

    code = "queue_full"


class TooManyExecutions(Throttled):
    """Over a running-execution quota: refused, not queued (the caller retries later)."""

    code = "too_many_executions"


class LaunchFailed(Exception):
    """Raised by a runner when a command could not be started; never reaches a caller."""


class StopFailed(Exception):
    """Raised by a runner when it could not ask a task to stop (the reaper asks again);
    never reaches a caller."""
