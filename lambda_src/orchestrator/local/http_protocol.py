"""uvicorn's httptools protocol as the local server runs it: a deadline and a size limit for
each request's line and headers, refusals in the API's error body, and the response-header
policy (api/headers.py) on every response that passes through it, uvicorn's own included."""

from __future__ import annotations

import asyncio
import socket
from http import HTTPStatus

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from orchestrator.api.errors import error_body
from orchestrator.api.headers import policy_headers
from orchestrator.console import SECURITY_HEADERS
from orchestrator.local.http_request import METHODS

MAX_HEADER_BYTES = 64 * 1024  # request line and headers


def protocol_class(header_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, plus a deadline for each request's line and headers
    (uvicorn alone only times out idle keep-alive connections)."""

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_deadline: asyncio.TimerHandle | None = None
        _header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # Headers and body go out in two writes; with Nagle's algorithm on, the client's
            # delayed ACK would hold the body back ~40 ms on every keep-alive request.
            connection = transport.get_extra_info("socket")
            if connection is not None:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._arm_header_deadline()

        def data_received(self, data: bytes) -> None:
            if self._header_deadline is None and (
                self.cycle is None or self.cycle.response_complete
            ):
                self._arm_header_deadline()
            self._unset_keepalive_if_required()
            try:
                if self._header_deadline is None:  # a body, or nothing to limit
                    self.parser.feed_data(data)
                    return
                # Reading a request's line and headers: the parser sees at most 64 KiB of
                # them, and a request whose headers go on past that is refused (431).
                room = MAX_HEADER_BYTES - self._header_bytes
                self._header_bytes += min(len(data), room)
                self.parser.feed_data(data[:room])
                if len(data) > room:
                    if self._header_deadline is not None:  # still in the headers
                        self._refuse(431, "headers_too_large", "request headers over 64 KiB")
                        return
                    self.parser.feed_data(data[room:])
            except httptools.HttpParserInvalidMethodError:
                self._refuse(405, "method_not_allowed", "method not allowed")
            except httptools.HttpParserUpgrade:
                pass  # no upgrades (WebSocket, CONNECT) here: the request was answered
            except httptools.HttpParserError as error:
                # Ambiguous framing (Content-Length with Transfer-Encoding, two or a negative
                # Content-Length) lands here: answered, and the connection closed.
                self._refuse(400, "bad_request", f"malformed HTTP request: {error}")

        def send_400_response(self, msg: str) -> None:
            self._refuse(400, "bad_request", f"malformed HTTP request: {msg}")

        def _refuse(self, status: int, code: str, message: str) -> None:
            """Answer a request that cannot be parsed, and close. Its path is not known
            reliably, so the refusal carries every header of the policy: the console's."""
            body = error_body(code, message).encode()
            lines = [
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                "content-type: application/json",
                f"content-length: {len(body)}",
                "connection: close",
                *(f"{name.lower()}: {value}" for name, value in SECURITY_HEADERS.items()),
            ]
            if status == 405:
                lines.append(f"allow: {', '.join(METHODS)}")
            self.transport.write("\r\n".join([*lines, "", ""]).encode() + body)
            self.transport.close()

        def on_headers_complete(self) -> None:
            self._disarm_header_deadline()
            previous = self.cycle
            super().on_headers_complete()
            if self.cycle is not None and self.cycle is not previous:
                # uvicorn writes a cycle's default headers into every response it sends for
                # the request, its own 500 and 503 included: the policy goes there, once.
                path = self.scope["raw_path"].decode("latin-1")
                self.cycle.default_headers = [  # a new list: uvicorn's is shared (Date)
                    *self.cycle.default_headers,
                    *(
                        (name.lower().encode(), value.encode())
                        for name, value in policy_headers(path).items()
                    ),
                ]

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

        def _arm_header_deadline(self) -> None:
            self._header_bytes = 0
            self._header_deadline = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
