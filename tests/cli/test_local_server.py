"""The local HTTP host itself: the OpenAPI document, body and header limits, keep-alive, path
values decoded once, timeouts from the environment, the header policy on uvicorn's own answers."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from cli_harness import CliHarness
from orchestrator.console import SECURITY_HEADERS
from orchestrator.local.platform import LocalPlatform
from orchestrator.local.server import LocalApiServer, ServerLimits


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


def test_a_chunked_body_over_the_limit_is_413_and_the_connection_closed(
    harness: CliHarness,
) -> None:
    connection = connect(harness)
    connection.putrequest("POST", "/executions")
    connection.putheader("X-API-Key", harness.user_key)
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    chunk = b"x" * 65536
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for _ in range(17):  # 1.06 MiB
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    response = connection.getresponse()

    assert response.status == 413
    assert response.getheader("Connection") == "close"


def test_timeouts_can_be_set_through_the_environment() -> None:
    limits = ServerLimits.from_environment(
        {"MYCLI_HTTP_HEADER_TIMEOUT": "1.5", "MYCLI_HTTP_IDLE_TIMEOUT": "2"}
    )

    assert (limits.header_timeout, limits.idle_timeout) == (1.5, 2.0)
    assert limits.body_timeout == ServerLimits().body_timeout


def test_a_lock_name_with_a_slash_is_decoded_once(harness: CliHarness) -> None:
    connection = connect(harness)
    connection.request("DELETE", "/locks/infra%252Fprod", headers={"X-API-Key": harness.admin_key})
    response = connection.getresponse()

    # %25 decodes to "%" once, leaving the literal name "infra%2Fprod": not a valid lock name.
    assert response.status == 400
    assert "infra%2Fprod" in json.loads(response.read())["error"]["message"]


def test_headers_over_64_kib_are_431_and_the_connection_closed(harness: CliHarness) -> None:
    url = urlsplit(harness.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(16):  # just over the limit with the line: more would be reset
                raw.sendall(b"y" * 4096)
        received = b""
        while chunk := raw.recv(65536):
            received += chunk

    assert received.startswith(b"HTTP/1.1 431 ")
    assert b'"code":"headers_too_large"' in received


def test_uvicorns_own_answers_carry_the_header_policy(platform: LocalPlatform) -> None:
    # Given a server that takes two connections at most, one of them held open
    server = LocalApiServer(
        platform.services, "127.0.0.1", 0, limits=ServerLimits(max_connections=2)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = urlsplit(server.url)
    try:
        with socket.create_connection((url.hostname or "", url.port or 0), timeout=5) as held:
            held.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert held.recv(65536).startswith(b"HTTP/1.1 200")
            # When another connection asks for a console path and for the API
            answers = []
            for path in ("/ui/a/b", "/executions"):
                connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
                connection.request("GET", path)
                answers.append(connection.getresponse())
                connection.close()
    finally:
        server.shutdown()

    # Then uvicorn's own 503 carries the same headers as any other answer for that path
    console, api = answers
    assert (console.status, api.status) == (503, 503)
    for name, value in SECURITY_HEADERS.items():
        assert console.getheader(name) == value
    assert api.getheader("X-Content-Type-Options") == "nosniff"
    assert api.getheader("Content-Security-Policy") is None
