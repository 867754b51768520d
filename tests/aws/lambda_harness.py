"""Invokes the Lambda handlers as Lambda does, routing requests as API Gateway would."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any

from events import LambdaContext, rest_event
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.handlers import runtime
from orchestrator.handlers.catalog import ROUTES


def reset_runtime() -> None:
    for cached in (runtime.settings, runtime.clients, runtime.ports, runtime.services):
        cached.cache_clear()


@dataclass
class Lambdas:
    """Invokes the deployed functions' handlers the way Lambda does."""

    settings: AwsSettings
    admin_key: str
    alice_key: str
    bob_key: str

    def invoke(self, module: str, event: dict[str, Any]) -> Any:
        handler = importlib.import_module(f"orchestrator.handlers.{module}").handler
        return handler(event, LambdaContext(aws_request_id=event.get("id", "req-1")))

    def call(
        self, method: str, path: str, key: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """Route the request to the function API Gateway would invoke for it."""
        response = self.answer(method, path, key, **kwargs)
        return response["statusCode"], json.loads(response["body"]) if response["body"] else None

    def answer(
        self, method: str, path: str, key: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The function's whole proxy result (status, headers, body) for the request."""
        module = _function_for(method, path)
        result: dict[str, Any] = self.invoke(module, rest_event(method, path, key=key, **kwargs))
        return result


def _function_for(method: str, path: str) -> str:
    parts = path.strip("/").split("/")
    for route in ROUTES:
        template = route.path.strip("/").split("/")
        if (
            route.method == method
            and len(template) == len(parts)
            and all(t.startswith("{") or t == p for t, p in zip(template, parts, strict=True))
        ):
            return route.module
    raise AssertionError(f"no function for {method} {path}")
