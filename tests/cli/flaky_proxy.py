"""An HTTP proxy on 127.0.0.1 in front of a real server that answers some requests itself
with scripted faults (429, 5xx, a dropped connection), as a throttled or failing API does,
and records every request it gets."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# (status, headers, error code) answered instead of forwarding; "drop" closes the connection.
Fault = tuple[int, dict[str, str], str] | str
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def throttled(retry_after: str | None = "0") -> Fault:
    return (429, {"Retry-After": retry_after} if retry_after else {}, "throttled")


def failing(status: int) -> Fault:
    return (status, {}, "internal_error")


@dataclass
class Seen:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    faulted: bool


@dataclass
class FlakyProxy:
    """`faults[kind]` are answered, in order, to requests of that kind (`kind_of`) before
    any is forwarded; `always[kind]` is answered to every one."""

    url: str = ""
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    always: dict[str, Fault] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    # `rewrite[kind](content_type, body)` is what a forwarded answer's body becomes (e.g. an
    # older server's page, without fields the real server sends).
    rewrite: dict[str, Callable[[str, bytes], bytes]] = field(default_factory=dict)

    def requests(self, kind: str) -> list[Seen]:
        return [s for s in self.seen if kind_of(s.method, s.path) == kind]


def kind_of(method: str, path: str) -> str:
    """create, logs, status or other."""
    route = urlsplit(path).path
    if route.endswith("/logs"):
        return "logs"
    if (method, route) == ("POST", "/executions"):
        return "create"
    if method == "GET" and route.startswith("/executions/") and route.count("/") == 2:
        return "status"
    return "other"


@contextmanager
def flaky_proxy(upstream: str) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy()
    target = urlsplit(upstream)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = kind_of(self.command, self.path)
            with lock:
                queued = proxy.faults.get(kind) or []
                fault = queued.pop(0) if queued else proxy.always.get(kind)
                proxy.seen.append(
                    Seen(time.monotonic(), self.command, self.path, dict(self.headers), bool(fault))
                )
            if fault == "drop":
                self.close_connection = True
                return
            if fault is not None:
                assert not isinstance(fault, str)
                status, headers, code = fault
                error = {"error": {"code": code, "message": f"scripted {status}", "details": {}}}
                self._answer(status, headers, json.dumps(error).encode())
                return
            upstream_connection = http.client.HTTPConnection(
                target.hostname or "127.0.0.1", target.port, timeout=60
            )
            try:
                upstream_connection.request(self.command, self.path, body, dict(self.headers))
                answer = upstream_connection.getresponse()
                data = answer.read()
                if kind in proxy.rewrite and answer.status == 200:
                    data = proxy.rewrite[kind](answer.getheader("Content-Type") or "", data)
                headers = {
                    name: value
                    for name, value in answer.getheaders()
                    if name.lower() not in HOP_BY_HOP
                }
                self._answer(answer.status, headers, data)
            finally:
                upstream_connection.close()

        def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "content-type" not in {name.lower() for name in headers}:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
