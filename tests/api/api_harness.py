"""Drives the API with synthetic API Gateway REST proxy events, as Lambda receives them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events import LambdaContext, rest_event
from orchestrator.api.app import Api
from orchestrator.domain.services import Services


@dataclass
class ApiHarness:
    services: Services
    admin_key: str
    alice_key: str
    bob_key: str

    def __post_init__(self) -> None:
        self.api = Api()

    def call(
        self, method: str, path: str, key: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        event = rest_event(method, path, key=key, **kwargs)
        context = LambdaContext(event["requestContext"]["requestId"])
        response = self.api.handle(event, context, self.services)  # type: ignore[arg-type]
        return response["statusCode"], json.loads(response["body"]) if response["body"] else None
