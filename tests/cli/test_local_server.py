"""The local HTTP host itself: the OpenAPI document, oversized bodies, keep-alive."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from cli_harness import CliHarness


def connect(harness: CliHarness) -> http.client.HTTPConnection:
    url = urlsplit(harness.url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def test_the_openapi_document_is_served_and_matches_the_committed_one(
    harness: CliHarness,
) -> None:
    connection = connect(harness)
    connection.request("GET", "/openapi.json")
    response = connection.getresponse()

    committed = Path(__file__).parents[2] / "docs" / "openapi.json"
    assert response.status == 200
    assert json.loads(response.read()) == json.loads(committed.read_text())


def test_an_oversized_body_is_413_before_it_is_read(harness: CliHarness) -> None:
    connection = connect(harness)
    connection.putrequest("POST", "/executions")
    connection.putheader("X-API-Key", harness.user_key)
    connection.putheader("Content-Length", str(2 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "payload_too_large"


def test_one_connection_serves_many_requests(harness: CliHarness) -> None:
    connection = connect(harness)
    for _ in range(20):
        connection.request("GET", "/me", headers={"X-API-Key": harness.user_key})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["email"]) == (200, "user@example.com")
