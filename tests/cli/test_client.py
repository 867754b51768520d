"""ApiClient against a scripted HTTP server on 127.0.0.1: which requests are retried, for how
long, with what notice, and how path segments are encoded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mycli.client import RETRY_NOTICE, ApiClient, api_path
from mycli.errors import ApiError, ConnectionFailed

Reply = tuple[int, dict[str, str], dict[str, Any]]


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted reply ("drop" closes the connection
    without an answer); records method, path and headers."""

    replies: list[Reply | str] = field(default_factory=list)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    script = ScriptedServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            script.seen.append((self.command, self.path, dict(self.headers.items())))
            reply = script.replies.pop(0) if script.replies else (200, {}, {"ok": True})
            if reply == "drop":
                self.close_connection = True
                return
            assert not isinstance(reply, str)
            status, headers, body = reply
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_DELETE(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield script
    httpd.shutdown()
    httpd.server_close()


def client_for(server: ScriptedServer, notices: list[str], sleeps: list[float]) -> ApiClient:
    return ApiClient(server.url, "mycli_key", notify=notices.append, sleep=sleeps.append)


BUSY: Reply = (503, {}, {"message": "Service Unavailable"})


def test_a_read_retries_5xx_and_429_then_succeeds_with_one_notice(server: ScriptedServer) -> None:
    server.replies = [BUSY, (429, {"Retry-After": "2"}, {"message": "Too Many"}), BUSY]
    notices: list[str] = []
    sleeps: list[float] = []

    answer = client_for(server, notices, sleeps).get("/executions")

    assert answer == {"ok": True}
    assert len(server.seen) == 4
    assert notices == [RETRY_NOTICE]
    assert sleeps[1] == 2.0, "Retry-After is honoured"


def test_a_read_gives_up_after_its_budget(server: ScriptedServer) -> None:
    server.replies = [BUSY] * 50
    client = client_for(server, [], [])
    client.retry_seconds = 0.3
    client._sleep = lambda seconds: __import__("time").sleep(min(seconds, 0.05))

    with pytest.raises(ApiError) as failed:
        client.get("/executions")

    assert failed.value.status == 503
    assert 2 <= len(server.seen) < 50


def test_a_dropped_connection_is_retried_once_the_server_has_answered(
    server: ScriptedServer,
) -> None:
    notices: list[str] = []
    client = client_for(server, notices, [])
    client.get("/me")
    server.replies = ["drop", "drop"]

    assert client.get("/executions/x/logs") == {"ok": True}
    assert notices == [RETRY_NOTICE]


def test_a_plain_post_is_sent_once(server: ScriptedServer) -> None:
    server.replies = [BUSY]

    with pytest.raises(ApiError):
        client_for(server, [], []).post("/executions/x/cancel")

    assert len(server.seen) == 1


def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(
    server: ScriptedServer,
) -> None:
    server.replies = [BUSY, (502, {}, {"message": "Bad Gateway"})]

    client_for(server, [], []).post("/executions", {"command": "x"}, idempotency_key="k-1")

    assert len(server.seen) == 3
    assert {headers["Idempotency-Key"] for _, _, headers in server.seen} == {"k-1"}


def test_a_refused_first_contact_fails_at_once() -> None:
    client = ApiClient("http://127.0.0.1:9", "k", notify=pytest.fail)

    with pytest.raises(ConnectionFailed, match="connection refused"):
        client.get("/me")


def test_deletes_are_sent_once(server: ScriptedServer) -> None:
    server.replies = [BUSY]

    with pytest.raises(ApiError):
        client_for(server, [], []).delete(api_path("locks", "a/b"))

    assert [(method, path) for method, path, _ in server.seen] == [("DELETE", "/locks/a%2Fb")]


@pytest.mark.parametrize(
    ("execution_id", "path"),
    [
        ("a b", "/executions/a%20b"),
        ("?limit=1", "/executions/%3Flimit%3D1"),
        ("../../x", "/executions/..%2F..%2Fx"),
        ("x/logs", "/executions/x%2Flogs"),
    ],
)
def test_every_segment_is_percent_encoded(
    server: ScriptedServer, execution_id: str, path: str
) -> None:
    client_for(server, [], []).get(api_path("executions", execution_id))

    assert server.seen[0][1] == path


def test_proxies_from_the_environment_are_honoured(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.url)  # the scripted server plays the proxy
    client = ApiClient("http://api.invalid:1234", "k", notify=lambda _: None)

    client.get("/me")

    assert server.seen[0][1] == "http://api.invalid:1234/me", "sent to the proxy, absolute form"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(ConnectionFailed, match="refused"):  # direct, not through the proxy
        ApiClient("http://127.0.0.1:9", "k", notify=lambda _: None).get("/me")
