"""One HTTP request as uvicorn hands it to the local server's ASGI application: its body read
in pieces under a deadline, its API Gateway REST proxy event, and its reply."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from orchestrator.adapters.local.uploads import SLOT_PATH
from orchestrator.api.errors import error_body
from orchestrator.api.headers import policy_headers
from orchestrator.domain.errors import TooLarge, ValidationFailed

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
JSON = [(b"content-type", b"application/json")]
CLOSE = [(b"connection", b"close")]
# Bodies with fewer brackets than this cannot nest deep enough to trouble a JSON parser.
NESTING_CHECK_BRACKETS = 64

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ClientGone(Exception):
    pass


class BodyTimeout(Exception):
    pass


class Request:
    """One HTTP request as uvicorn hands it over, and its reply."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, body_timeout: float) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self._body_timeout = body_timeout
        self._body_complete = False
        self.method: str = scope["method"]
        # As sent, still percent-encoded: the resolver decodes each path value once.
        self.path: str = scope["raw_path"].decode("latin-1")
        self.query: str = scope["query_string"].decode("latin-1")
        self.headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        ]
        lengths = [value for name, value in self.headers if name == "content-length"]
        # The parser already refused duplicate, negative and non-decimal lengths.
        self.content_length = int(lengths[0]) if lengths else None

    @property
    def upload_id(self) -> str:
        return self.path[len(SLOT_PATH) :]

    @property
    def waits(self) -> bool:
        """A long-poll for logs, which may hold its thread for many seconds."""
        return self.path.endswith("/logs") and "wait" in parse_qs(self.query)

    async def chunk(self) -> bytes | None:
        """The next piece of the body, or None at its end."""
        if self._body_complete:
            return None
        try:
            message = await asyncio.wait_for(self._receive(), self._body_timeout)
        except TimeoutError:
            raise BodyTimeout from None
        if message["type"] == "http.disconnect":
            raise ClientGone
        self._body_complete = not message.get("more_body", False)
        data: bytes = message.get("body", b"")
        return data if data or not self._body_complete else None

    async def body(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while (part := await self.chunk()) is not None:
            size += len(part)
            if size > limit:
                raise TooLarge(f"body over {limit} bytes")
            parts.append(part)
        return b"".join(parts)

    def event(self, text: str | None, body: bytes) -> dict[str, Any]:
        """The API Gateway REST proxy event of this request."""
        multi_query = parse_qs(self.query, keep_blank_values=True) if self.query else {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in self.headers:
            multi_headers.setdefault(name, []).append(value)
        encoded = text is None and bool(body)
        request_id = str(uuid.uuid4())
        client = self.scope.get("client") or ("", 0)
        return {
            "resource": self.path,
            "path": self.path,
            "httpMethod": self.method,
            "headers": {name: values[-1] for name, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "stage": "local",
                "httpMethod": self.method,
                "path": self.path,
                "resourcePath": self.path,
                "identity": {"sourceIp": client[0]},
            },
            "body": (base64.b64encode(body).decode() if encoded else text) if body else None,
            "isBase64Encoded": encoded,
        }

    async def reply(self, status: int, headers: list[tuple[bytes, bytes]], data: bytes) -> int:
        """Send the response. The header policy's headers (api/headers.py) are left out here:
        the protocol adds them to every response of this request (http_protocol.py)."""
        policy = {name.lower().encode() for name in policy_headers(self.path)}
        kept = [(name, value) for name, value in headers if name.lower() not in policy]
        length = [(b"content-length", str(len(data)).encode())]
        await self._send(
            {"type": "http.response.start", "status": status, "headers": kept + length}
        )
        await self._send({"type": "http.response.body", "body": data})
        return status

    async def error(
        self,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> int:
        return await self.reply(status, JSON + (headers or []), error_body(code, message).encode())


def checked_text(body: bytes) -> str | None:
    """The body as text, refusing what no route can parse: bytes that are not UTF-8 and JSON
    nested deeper than the parser can follow."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("the request body is not valid UTF-8") from None
    if text.count("[") + text.count("{") >= NESTING_CHECK_BRACKETS:
        try:
            json.loads(text)
        except RecursionError:
            raise ValidationFailed("the request body nests too deeply") from None
        except ValueError:
            pass  # the route answers this one, as it does on Lambda
    return text


class BodyStream:
    """A blocking `read` over the request body, for the upload store on a transfer thread."""

    def __init__(self, request: Request, loop: asyncio.AbstractEventLoop) -> None:
        self._request = request
        self._loop = loop
        self._buffer = bytearray()
        self._ended = False

    def read(self, size: int = -1, /) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            future = asyncio.run_coroutine_threadsafe(self._request.chunk(), self._loop)
            try:
                part = future.result()
            except (BodyTimeout, ClientGone):
                part = None  # a short body: the store refuses it and keeps nothing
            if part is None:
                self._ended = True
            else:
                self._buffer += part
        end = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data
