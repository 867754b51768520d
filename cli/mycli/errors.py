"""Errors the CLI turns into one line on stderr and an exit code, never a traceback.

This module and exitcodes.py are the one place that decides which code an error gets."""

from __future__ import annotations

from mycli import exitcodes

# Not `from typing import ...`: typing (with re and collections) costs `mycli --help` ~10 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = exitcodes.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ConfigError(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exitcodes.USAGE)


class MissingKey(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exitcodes.AUTH)


class ConnectionFailed(CliError):
    pass


class ApiError(CliError):
    """The server answered with an error body: {"error": {code, message, details}}."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, exitcodes.for_http_status(status, code))
        self.status = status
        self.code = code
        self.details = details


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived while `mycli exec` was running; exit 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


KEPT_BY_EXEC = (exitcodes.USAGE, exitcodes.AUTH, exitcodes.NOT_FOUND, exitcodes.CONFLICT)


def exec_exit_code(error: CliError) -> int:
    """The code for `mycli exec` when the command could not be run: bad input (2), a key
    problem (3), not found (4) and other conflicts (5, too many executions running included)
    keep theirs; a held lock (its queue full too), the network
    and server errors are "could not run" (125)."""
    if isinstance(error, ApiError) and error.code in ("lock_held", "queue_full"):
        return exitcodes.EXEC_COULD_NOT_RUN
    if error.exit_code in KEPT_BY_EXEC:
        return error.exit_code
    return exitcodes.EXEC_COULD_NOT_RUN
