"""Authentication: X-API-Key → caller, for every route but the public ones.

It runs before the resolver (and so before body validation): a request without a valid key
learns nothing about the API's shapes, only that it needs a key."""

from __future__ import annotations

from typing import Any

from orchestrator.api.context import RequestScope

API_KEY_HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})


def authenticate(event: dict[str, Any], scope: RequestScope) -> None:
    """Set the scope's caller from the event's key; raises Unauthorized."""
    if event.get("path") in PUBLIC_PATHS:
        return
    wanted = API_KEY_HEADER.lower()
    headers = event.get("headers") or {}
    api_key = next((value for name, value in headers.items() if name.lower() == wanted), None)
    scope.caller = scope.services.users.authenticate(api_key)
