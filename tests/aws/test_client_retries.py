"""The functions' AWS clients retry in botocore's adaptive mode, four attempts in all; a call
still throttled after them becomes the API's 429 `throttled`. Against a throttling endpoint
on 127.0.0.1 (real HTTP, botocore's real retry and parsing), not moto."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.api.errors import as_throttled

THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
    "message": "Rate of requests exceeds the allowed throughput.",
}


class Endpoint:
    """A DynamoDB endpoint that throttles the first `throttles` requests, then lists no
    table."""

    def __init__(self) -> None:
        self.throttles = 0
        self.requests = 0


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests += 1
            throttled = state.requests <= state.throttles
            data = json.dumps(THROTTLED if throttled else {"TableNames": []}).encode()
            self.send_response(400 if throttled else 200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{server.server_address[1]}",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", ["dynamodb", "ecs", "logs", "kms", "s3", "s3_sigv4", "ssm"])
def test_every_client_retries_in_adaptive_mode_four_attempts_in_all(
    endpoint: Endpoint, name: str
) -> None:
    config = getattr(AwsClients(), name).meta.config

    assert config.retries == {"mode": "adaptive", "total_max_attempts": 4}


def test_the_sigv4_s3_client_keeps_its_signature_version(endpoint: Endpoint) -> None:
    assert AwsClients().s3_sigv4.meta.config.signature_version == "s3v4"


def test_a_call_throttled_past_its_attempts_becomes_the_apis_throttled(
    endpoint: Endpoint,
) -> None:
    endpoint.throttles = 100

    with pytest.raises(ClientError) as failed:
        AwsClients().dynamodb.list_tables()

    assert endpoint.requests == 4, "four attempts in all, then the error"
    throttled = as_throttled(failed.value)
    assert throttled is not None
    assert throttled.code == "throttled"
    assert "ThrottlingException" in throttled.message
