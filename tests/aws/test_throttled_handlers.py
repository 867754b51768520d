"""AWS throttling that outlasts botocore's retries, as the Lambda handlers answer it: 429
`throttled` with Retry-After in the API's error shape, never 500; a quota refusal stays 429
`too_many_executions` without Retry-After, and other AWS errors stay 500.

The functions' AwsClients are the real ones (on moto); the throttled operation answers the
throttling error botocore would raise once its retries are spent (a botocore before-call
answer, as botocore's Stubber gives one)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from lambda_harness import Lambdas
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import AwsPorts
from orchestrator.handlers import runtime


@pytest.fixture
def clients(lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    """The clients the functions use in this test (one container's)."""
    shared = AwsClients()
    monkeypatch.setattr(
        runtime, "ports", cache(lambda: AwsPorts.deferred(runtime.settings(), shared))
    )
    runtime.services.cache_clear()
    return shared


def answer_with_error(
    client: Any, operations: tuple[str, ...], code: str, status: int = 400
) -> list[str]:
    """Make `client`'s `operations` fail with AWS error `code`; returns the calls refused."""
    refused: list[str] = []

    def refuse(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        refused.append(model.name)
        error = {"Error": {"Code": code, "Message": "Rate exceeded"}}
        metadata = {"ResponseMetadata": {"HTTPStatusCode": status, "MaxAttemptsReached": True}}
        return AWSResponse("https://aws.example", status, {}, None), error | metadata

    for operation in operations:
        client.meta.events.register(f"before-call.*.{operation}", refuse)
    return refused


def header(answer: dict[str, Any], name: str) -> str | None:
    """A header of a proxy result, from `headers` or `multiValueHeaders` (API Gateway sends
    both)."""
    several = (answer.get("multiValueHeaders") or {}).get(name)
    return several[0] if several else (answer.get("headers") or {}).get(name)


def assert_throttled(answer: dict[str, Any]) -> None:
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 429, body
    assert header(answer, "Retry-After") == "1"
    assert body["error"]["code"] == "throttled"
    assert "retry in 1 s" in body["error"]["message"]
    assert body["error"]["details"] == {"retry_after_seconds": 1}


def test_a_throttled_dynamodb_read_is_429_with_retry_after(
    lambdas: Lambdas, clients: AwsClients
) -> None:
    # Given the executions index answering ProvisionedThroughputExceededException
    refused = answer_with_error(
        clients.dynamodb, ("Query",), "ProvisionedThroughputExceededException"
    )

    # When Alice lists her executions
    answer = lambdas.answer("GET", "/executions", lambdas.alice_key)

    # Then she is told to retry shortly
    assert refused, "the listing reached the throttled query"
    assert_throttled(answer)


def test_a_throttled_key_lookup_is_429_before_any_route_runs(
    lambdas: Lambdas, clients: AwsClients
) -> None:
    answer_with_error(clients.dynamodb, ("GetItem",), "ThrottlingException")

    assert_throttled(lambdas.answer("GET", "/me", lambdas.alice_key))


@pytest.mark.parametrize(
    ("service", "operations", "code", "status", "request_"),
    [
        ("ssm", ("GetParametersByPath",), "ThrottlingException", 400, ("GET", "/secrets")),
        ("s3", ("ListObjectsV2", "GetObject"), "SlowDown", 503, ("GET", "logs")),
        ("dynamodb", ("PutItem", "TransactWriteItems"), "RequestLimitExceeded", 400, ("POST",)),
        ("dynamodb", ("Query",), "UnmodeledThrottle", 429, ("GET", "/executions")),
    ],
    ids=["ssm", "s3-slowdown", "dynamodb-create", "any-code-with-http-429"],
)
def test_throttling_from_each_service_is_429(
    lambdas: Lambdas,
    clients: AwsClients,
    service: str,
    operations: tuple[str, ...],
    code: str,
    status: int,
    request_: tuple[str, ...],
) -> None:
    # Given a running execution, and then `service` throttling `operations`
    _, execution = lambdas.call("POST", "/executions", lambdas.alice_key, body={"command": "x"})
    refused = answer_with_error(getattr(clients, service), operations, code, status)
    send: Callable[[], dict[str, Any]] = {
        ("GET", "/secrets"): lambda: lambdas.answer("GET", "/secrets", lambdas.admin_key),
        ("GET", "logs"): lambda: lambdas.answer(
            "GET", f"/executions/{execution['execution_id']}/logs", lambdas.alice_key
        ),
        ("POST",): lambda: lambdas.answer(
            "POST", "/executions", lambdas.alice_key, body={"command": "y"}
        ),
        ("GET", "/executions"): lambda: lambdas.answer("GET", "/executions", lambdas.alice_key),
    }[request_]

    # When the route that needs it is called
    answer = send()

    # Then it is answered 429 throttled, retry after 1 s
    assert refused
    assert_throttled(answer)


def test_a_quota_refusal_stays_too_many_executions_without_retry_after(
    lambdas: Lambdas, clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_RUNNING_PER_USER", "1")
    runtime.settings.cache_clear()
    runtime.services.cache_clear()
    lambdas.call("POST", "/executions", lambdas.alice_key, body={"command": "x"})

    answer = lambdas.answer("POST", "/executions", lambdas.alice_key, body={"command": "y"})

    assert answer["statusCode"] == 429
    assert json.loads(answer["body"])["error"]["code"] == "too_many_executions"
    assert header(answer, "Retry-After") is None


def test_an_aws_error_that_is_not_throttling_stays_a_500(
    lambdas: Lambdas, clients: AwsClients
) -> None:
    answer_with_error(clients.dynamodb, ("Query",), "InternalServerError", 500)

    answer = lambdas.answer("GET", "/executions", lambdas.alice_key)

    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["error"]["code"] == "internal_error"
    assert header(answer, "Retry-After") is None
