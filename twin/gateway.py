"""The twin's API Gateway: an HTTP server on 127.0.0.1 (uvicorn, as `mycli local up`) that
serves the template's REST API under its stage (`/prod/...`): each request is matched to
the template's route, validated as the template's validator says, turned into the proxy
event and given to the route's Lambda function; the function's answer goes back as HTTP.
A function that raises or answers something that is not a proxy response is a 502, as on
API Gateway."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvicorn

from twin.functions import Function
from twin.rest_api import RestApi, invalid_request, proxy_event

logger = logging.getLogger("twin.gateway")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
WORKERS = 32
Scope = Mapping[str, Any]


class Gateway:
    """Binds 127.0.0.1:`port` at once (0: any free port); serves in a thread until `close`."""

    def __init__(self, api: RestApi, functions: Mapping[str, Function], port: int = 0) -> None:
        self.api = api
        self.functions = functions
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(1024)
        self._pool = ThreadPoolExecutor(WORKERS, "twin-api")
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.asgi,
                loop="asyncio",
                lifespan="off",
                ws="none",
                interface="asgi3",
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=3,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The stage's URL, as the stack's ApiUrl output gives it (without the last /)."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/{self.api.stage}"

    def start(self) -> Gateway:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="twin-gateway"
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            threading.Event().wait(0.02)
        return self

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._socket.close()

    async def asgi(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_PAYLOAD_BYTES:
                return await _reply(
                    send, *self.api.error("REQUEST_TOO_LARGE", 413, "Request Too Long")
                )
            if not message.get("more_body"):
                break
        status, headers, data = await asyncio.get_running_loop().run_in_executor(
            self._pool, self.serve, scope, body
        )
        await _reply(send, status, headers, data)

    def serve(self, scope: Scope, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request: (status, headers, body)."""
        method: str = scope["method"]
        raw_path = scope["raw_path"].decode("latin-1")
        stage_prefix = f"/{self.api.stage}"
        if raw_path != stage_prefix and not raw_path.startswith(stage_prefix + "/"):
            return 403, {"content-type": "application/json"}, b'{"message":"Forbidden"}'
        path = raw_path[len(stage_prefix) :] or "/"
        found = self.api.route(method, path)
        if found is None:
            return self.api.error(
                "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"
            )
        route, values = found
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client") or ("127.0.0.1", 0)
        event = proxy_event(
            self.api,
            route,
            values,
            method=method,
            path=path,
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            source_ip=client[0],
        )
        refused = invalid_request(route, event)
        if refused is not None:
            kind, message = refused
            return self.api.error(kind, 400, message)
        try:
            result = self.functions[route.function].invoke(event)
            accept = next((v for k, v in reversed(headers) if k.lower() == "accept"), None)
            return _http_of(result, self.api.sends_binary(accept))
        except Exception:
            logger.exception("%s %s: the function failed", method, path)
            return self.api.error("DEFAULT_5XX", 502, "Internal server error")


def _http_of(result: Any, binary: bool = True) -> tuple[int, dict[str, str], bytes]:
    """A Lambda proxy response → (status, headers, body); ValueError when malformed. A
    base64-flagged body is decoded when the API sends binary for the request (`binary`)."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        raise ValueError("malformed Lambda proxy response")
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(str(name).lower(), ", ".join(str(value) for value in values))
    payload = result.get("body") or ""
    decode = result.get("isBase64Encoded") and binary
    data = base64.b64decode(payload) if decode else str(payload).encode()
    headers.pop("content-length", None)
    return int(result["statusCode"]), headers, data


async def _reply(send: Any, status: int, headers: Mapping[str, str], data: bytes) -> None:
    pairs = [(name.encode(), value.encode()) for name, value in headers.items()]
    pairs.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": pairs})
    await send({"type": "http.response.body", "body": data})
