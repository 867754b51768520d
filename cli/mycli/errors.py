"""Errors the CLI turns into one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

from typing import Any

from mycli import exitcodes


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = exitcodes.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ConfigError(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exitcodes.USAGE)


class ConnectionFailed(CliError):
    pass


class ApiError(CliError):
    """The server answered with an error body: {"error": {code, message, details}}."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, exitcodes.for_http_status(status))
        self.status = status
        self.code = code
        self.details = details
