"""Authentication: X-API-Key → caller, for every route but the public ones.

It runs before the resolver (and so before body validation): a request without a valid key
learns nothing about the API's shapes, only that it needs a key."""

from __future__ import annotations

from typing import Any

from orchestrator.api.context import RequestScope
from orchestrator.api.headers import is_console_path

API_KEY_HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})


def is_console_request(event: dict[str, Any]) -> bool:
    """A GET for the console's files: /ui or anything below /ui/ (only console routes)."""
    return event.get("httpMethod") == "GET" and is_console_path(event.get("path") or "")


def authenticate(event: dict[str, Any], scope: RequestScope) -> None:
    """Set the scope's caller from the event's key; raises Unauthorized."""
    if event.get("path") in PUBLIC_PATHS or is_console_request(event):
        return
    wanted = API_KEY_HEADER.lower()
    headers = event.get("headers") or {}
    api_key = next((value for name, value in headers.items() if name.lower() == wanted), None)
    scope.caller = scope.services.users.authenticate(api_key)
