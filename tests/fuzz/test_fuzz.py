"""Schemathesis over the OpenAPI document: every operation, positive and negative cases, on a
real `mycli local up` over HTTP and, the same requests, through the Lambda handlers on moto.
No response may be a 5xx, and every one must match the document (status, content type, body).
`POST /executions` only ever runs `true`, and clones nothing (see HARMLESS_GIT_URL)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from generated import DOCUMENT, Generated, Keys, generated, operations_covered
from schemathesis import Response
from schemathesis.core.failures import FailureGroup

from aws.lambda_harness import Lambdas
from e2e.deployment import LocalDeployment
from orchestrator.handlers.catalog import ROUTES

LAMBDA_BASE_URL = "https://api.example.com"


def failures_of(cases: tuple[Generated, ...], send: Any, keys: Keys, base_url: str) -> list[str]:
    """Send every case, validate its response, and describe the ones that failed; also
    check that the requests reached the routes (some were accepted, not all refused)."""
    failed: list[str] = []
    accepted: set[str] = set()
    for item in cases:
        request = item.prepare(base_url, keys)
        response = send(item, request)
        if 200 <= response.status_code < 300:
            accepted.add(item.case.operation.label)
        try:
            item.validate(response)
        except FailureGroup as failure:
            failed.append(f"{request.method} {request.url} [{item.identity} key]: {failure}")
    assert {"POST /executions", "POST /users", "GET /executions", "GET /locks"} <= (accepted)
    return failed


def test_every_operation_is_fuzzed() -> None:
    document = json.loads(DOCUMENT.read_text())
    operations = {
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    }
    assert operations_covered() == operations
    assert operations == {f"{route.method} {route.path}" for route in ROUTES}


def test_local_server_answers_generated_requests_as_documented(
    local: tuple[LocalDeployment, Keys],
) -> None:
    deployment, keys = local
    session = requests.Session()

    def send(item: Generated, request: requests.PreparedRequest) -> requests.Response:
        return session.send(request, timeout=30)

    failed = failures_of(generated(), send, keys, deployment.url)
    assert not failed, "\n".join(failed[:5]) + f"\n({len(failed)} failed)"


def test_lambda_handlers_answer_the_same_requests_as_documented(
    lambdas: tuple[Lambdas, Keys],
) -> None:
    functions, keys = lambdas
    module_by_operation = {f"{r.method} {r.path}": r.module for r in ROUTES}

    def send(item: Generated, request: requests.PreparedRequest) -> requests.Response:
        # API Gateway invokes the function of the operation's route.
        module = module_by_operation[item.case.operation.label]
        return response_of(request, functions.invoke(module, rest_event_of(request)))

    failed = failures_of(generated(), send, keys, LAMBDA_BASE_URL)
    assert not failed, "\n".join(failed[:5]) + f"\n({len(failed)} failed)"


def rest_event_of(request: requests.PreparedRequest) -> dict[str, Any]:
    """The API Gateway REST proxy event for `request`: the path as sent (percent-encoded),
    query values decoded, a body that is not UTF-8 base64-encoded."""
    url = urlsplit(request.url or "")
    query = parse_qs(url.query, keep_blank_values=True)
    body = request.body.encode() if isinstance(request.body, str) else request.body
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body or b"").decode(), True
    headers = dict(request.headers)
    return {
        "resource": url.path,
        "path": url.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": "fuzz",
            "stage": "prod",
            "httpMethod": request.method,
            "path": f"/prod{url.path}",
            "resourcePath": url.path,
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def response_of(request: requests.PreparedRequest, result: dict[str, Any]) -> Response:
    """A Lambda proxy result as the HTTP response API Gateway would send."""
    headers: dict[str, list[str]] = {}
    for name, value in (result.get("headers") or {}).items():
        headers.setdefault(name.lower(), []).append(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), list(values))
    payload = result.get("body") or ""
    content = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
    return Response(
        status_code=result["statusCode"],
        headers=headers,
        content=content,
        request=request,
        elapsed=0.0,
        verify=True,
    )
