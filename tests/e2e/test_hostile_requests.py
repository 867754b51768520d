"""Issue 9's hostile requests, over real HTTP against `mycli local up`: each is a 4xx with the
error body, never a 5xx, and a refused run leaves no lock behind."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from deployment import LocalDeployment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.embedded_only("raw HTTP to the local server (API Gateway answers these on AWS)"),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """One platform for the module: every request here is refused or harmless."""
    local = LocalDeployment(Path(tmp_path_factory.mktemp("hostile")))
    local.up()
    yield local
    local.down()


def send(
    deployment: LocalDeployment,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = "admin",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    url = urlsplit(deployment.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key == "admin":
        sent["X-API-Key"] = deployment.admin_key
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), json.loads(data) if data else None
    finally:
        connection.close()


def refused(result: tuple[int, dict[str, str], Any], status: int = 400) -> str:
    got, _, body = result
    assert got == status, body
    assert set(body["error"]) == {"code", "message", "details"}
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize(
    "body",
    [{"command": "echo \x00 hi"}, {"command": "echo hi", "env": {"SECRET": "x\x00y"}}],
)
def test_nul_in_command_or_env_is_400_and_the_lock_stays_free(
    shared: LocalDeployment, body: dict[str, Any]
) -> None:
    payload = json.dumps({"lock": "nul-e2e"} | body).encode()

    assert "must not contain NUL" in refused(send(shared, "POST", "/executions", payload))
    assert [lock["name"] for lock in shared.locks()] == []
    # and the next run on that lock gets it at once
    status, _, execution = send(
        shared, "POST", "/executions", json.dumps({"command": "true", "lock": "nul-e2e"}).encode()
    )
    assert status == 202, execution
    shared.wait_status(execution["execution_id"], ("SUCCEEDED",))


@pytest.mark.parametrize(
    "payload",
    [
        b"[1]",
        b'"a@b.c"',
        b"null",
        b'{"email": 5}',
        b'{"email": "a\\u0000@b.c"}',
        b'{"email": "a\\ud800@b.c"}',
        b'{"email": "a@b.c", "role": 1}',
        b'{"email": "a@b.c", "x": 1}',
    ],
)
def test_odd_user_bodies_are_400(shared: LocalDeployment, payload: bytes) -> None:
    refused(send(shared, "POST", "/users", payload))


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"command": "\xff\xfe"}', "UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "nests too deeply"),
        (b'{"command": "true", "timeout_seconds": true}', "timeout_seconds"),
        (b'{"command": "true", "timeout_seconds": "10"}', "timeout_seconds"),
    ],
)
def test_unreadable_or_coerced_bodies_are_400(
    shared: LocalDeployment, payload: bytes, words: str
) -> None:
    assert words in refused(send(shared, "POST", "/executions", payload))


def test_odd_log_cursors_are_400_and_a_long_one_is_read_as_documented(
    shared: LocalDeployment,
) -> None:
    status, _, execution = send(
        shared, "POST", "/executions", json.dumps({"command": "echo hi"}).encode()
    )
    assert status == 202
    logs = f"/executions/{execution['execution_id']}/logs"

    for cursor in ("99999999999999999999999", str(2**63), "\u00b2", "x" * 1024):
        refused(send(shared, "GET", f"{logs}?{urlencode({'cursor': cursor})}"))
    assert "cursor" in refused(send(shared, "GET", f"/executions?cursor={'A' * 1025}"))
    assert refused(send(shared, "GET", f"/executions?cursor={'A' * 1024}")) == "invalid cursor"


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH"])
def test_another_method_is_405(shared: LocalDeployment, method: str) -> None:
    status, headers, body = send(shared, method, "/executions")

    assert status == 405
    assert body["error"]["code"] == "method_not_allowed"
    assert {name.lower() for name in headers} >= {"allow"}


def test_the_served_document_has_health_open(shared: LocalDeployment) -> None:
    status, _, document = send(shared, "GET", "/openapi.json", key=None)

    assert status == 200
    assert "security" not in document["paths"]["/health"]["get"]
    assert document["paths"]["/me"]["get"]["security"] == [{"apiKey": []}]
    assert send(shared, "GET", "/health", key=None)[0] == 200
