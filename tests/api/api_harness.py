"""Drives the API with synthetic API Gateway REST proxy events, as Lambda receives them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from orchestrator.api.app import Api
from orchestrator.domain.services import Services


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "mycli-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:mycli-test"


def rest_event(
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as API Gateway sends it to Lambda."""
    headers = {"Content-Type": "application/json", "Host": "api.example.com"}
    if key is not None:
        headers["X-API-Key"] = key
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": "prod",
            "httpMethod": method,
            "path": f"/prod{path}" + (f"?{urlencode(query)}" if query else ""),
            "resourcePath": path,
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": raw_body
        if raw_body is not None
        else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }


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
