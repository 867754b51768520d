"""The headers every response carries, decided in one place for both hosts (the Lambda
functions through `Api.handle`, the local server for its own answers too): every response
says `X-Content-Type-Options: nosniff`, so no browser reads an error body as HTML or script;
every response to a path under /ui (the web console) carries the console's security headers,
whatever the path, status or method, and whoever answered it."""

from __future__ import annotations

from typing import Any

from orchestrator.console import SECURITY_HEADERS

CONSOLE_PATH = "/ui"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def is_console_path(path: str) -> bool:
    """/ui or anything below /ui/, as sent (still percent-encoded), query excluded."""
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def policy_headers(path: str) -> dict[str, str]:
    """The headers a response to `path` must carry, over any the route set."""
    return dict(SECURITY_HEADERS) if is_console_path(path) else dict(NOSNIFF)


def with_policy_headers(result: dict[str, Any], path: str) -> dict[str, Any]:
    """An API Gateway proxy result with the policy's headers, replacing same-named ones in
    `headers` and `multiValueHeaders` (names compare case-insensitively)."""
    wanted = policy_headers(path)
    names = {name.lower() for name in wanted}
    headers = {k: v for k, v in (result.get("headers") or {}).items() if k.lower() not in names}
    multi = result.get("multiValueHeaders")
    if multi:
        result["multiValueHeaders"] = {k: v for k, v in multi.items() if k.lower() not in names}
    result["headers"] = {**headers, **wanted}
    return result
