"""The local HTTP host: serves the same Powertools routers as the Lambda functions,
translating each request into an API Gateway REST proxy event.

HTTP is uvicorn's (httptools parser) on one asyncio loop: connections, header and body
reads and idle keep-alive connections cost no thread. Only a complete request reaches a
bounded pool of worker threads, each with its own Api (Powertools resolvers hold the
current event, so one must never serve two requests at once). Long-polls and upload
transfers get pools of their own, so neither can starve ordinary requests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

import httptools
import uvicorn
from aws_lambda_powertools.utilities.typing import LambdaContext
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.private import private_file, secure_data_dir
from orchestrator.adapters.local.uploads import SLOT_PATH, LocalUploadStore
from orchestrator.api.app import Api, openapi_json
from orchestrator.api.errors import error_body, http_status_of
from orchestrator.domain.errors import MycliError, TooLarge, ValidationFailed
from orchestrator.domain.services import Services
from orchestrator.local.platform import LocalPlatform, LocalSettings
from orchestrator.ports import Clock

logger = logging.getLogger("mycli.server")

MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024  # request line and headers
UPLOAD_PURGE_INTERVAL_SECONDS = 3600
STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
JSON = [(b"content-type", b"application/json")]
CLOSE = [(b"connection", b"close")]
# Bodies with fewer brackets than this cannot nest deep enough to trouble a JSON parser.
NESTING_CHECK_BRACKETS = 64

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class ServerLimits:
    """How much the server gives each client. Timeouts can be set through the environment
    (MYCLI_HTTP_HEADER_TIMEOUT, MYCLI_HTTP_BODY_TIMEOUT, MYCLI_HTTP_IDLE_TIMEOUT, in seconds)."""

    # Threads resolving API requests. Resolving is CPU-bound Python, so more threads than
    # cores only contend for the GIL: bench/load.py at 200 clients gave 281 req/s with 8,
    # 325 with 3, 378 with 2 and 493 with 1; 2 keeps one slow request from holding up the rest.
    workers: int = 2
    waiting_workers: int = 32  # threads for long-polls (`wait` on a logs request)
    upload_workers: int = 4  # threads writing upload transfers to disk
    max_connections: int = 512  # over it, requests get 503 until connections close
    header_timeout: float = 10.0  # to receive a request's line and headers
    body_timeout: float = 30.0  # between two pieces of a request body
    idle_timeout: float = 5.0  # a keep-alive connection waiting for its next request
    backlog: int = 2048

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServerLimits:
        environ = os.environ if environ is None else environ
        defaults = cls()

        def seconds(name: str, default: float) -> float:
            raw = environ.get(f"MYCLI_HTTP_{name.upper()}")
            return float(raw) if raw else default

        return dataclasses.replace(
            defaults,
            workers=int(seconds("workers", defaults.workers)),
            header_timeout=seconds("header_timeout", defaults.header_timeout),
            body_timeout=seconds("body_timeout", defaults.body_timeout),
            idle_timeout=seconds("idle_timeout", defaults.idle_timeout),
        )


@dataclass(frozen=True)
class LambdaContextStub:
    """What Powertools reads from a Lambda context, for requests served locally."""

    aws_request_id: str
    function_name: str = "mycli-local"
    memory_limit_in_mb: int = 0
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:mycli-local"


class LocalApiServer:
    """Binds `host:port` at once (port 0 picks one); `serve_forever` serves until `shutdown`."""

    def __init__(
        self,
        services: Services,
        host: str,
        port: int,
        uploads: LocalUploadStore | None = None,
        clock: Clock | None = None,
        limits: ServerLimits | None = None,
        on_stopping: Callable[[], None] | None = None,
    ) -> None:
        self._services = services
        self._apis = threading.local()
        self._openapi: bytes | None = None
        self.uploads = uploads
        self.clock = clock or SystemClock()
        self.limits = limits or ServerLimits.from_environment()
        self._socket = _listening_socket(host, port, self.limits.backlog)
        self._workers = ThreadPoolExecutor(self.limits.workers, "api")
        self._waiting = ThreadPoolExecutor(self.limits.waiting_workers, "api-wait")
        self._transfers = ThreadPoolExecutor(self.limits.upload_workers, "upload")
        self._stopped = threading.Event()
        self._server = _Server(
            on_stopping,
            uvicorn.Config(
                self.asgi,
                http=_protocol_class(self.limits.header_timeout),
                loop="asyncio",
                lifespan="off",
                ws="none",
                interface="asgi3",
                log_config=None,
                access_log=False,
                server_header=False,
                proxy_headers=False,  # the client address is the socket's, never a header's
                limit_concurrency=self.limits.max_connections,
                timeout_keep_alive=self.limits.idle_timeout,  # type: ignore[arg-type]
                timeout_graceful_shutdown=3,
                backlog=self.limits.backlog,
            ),
        )
        if uploads is not None:
            uploads.base_url = self.url

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        finally:
            for pool in (self._workers, self._waiting, self._transfers):
                pool.shutdown(wait=False, cancel_futures=True)
            self._socket.close()
            self._stopped.set()

    def stop_soon(self) -> None:
        """Ask the server to stop (safe from a signal handler)."""
        self._server.should_exit = True

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop_soon()
        self._stopped.wait(timeout)

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        api: Api | None = getattr(self._apis, "api", None)
        if api is None:
            api = self._apis.api = Api()
        request_id = event["requestContext"]["requestId"]
        context = cast(LambdaContext, LambdaContextStub(aws_request_id=request_id))
        return api.handle(event, context, self._services)

    def openapi_document(self) -> bytes:
        if self._openapi is None:
            self._openapi = openapi_json().encode()
        return self._openapi

    # -- the ASGI application ------------------------------------------------------------

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = _Request(scope, receive, send, self.limits.body_timeout)
        status = await self._serve(request)
        logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
        )

    async def _serve(self, request: _Request) -> int:
        if request.method not in METHODS:
            allow = [(b"allow", ", ".join(METHODS).encode())]
            return await request.error(405, "method_not_allowed", "method not allowed", allow)
        if request.path.startswith(SLOT_PATH) and request.method == "PUT":
            return await self._receive_upload(request)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return await request.error(
                413, "payload_too_large", f"body over {MAX_BODY_BYTES} bytes", CLOSE
            )
        try:
            body = await request.body(MAX_BODY_BYTES)
            text = _checked_text(body)
        except _ClientGone:
            return 499
        except _BodyTimeout:
            return await request.error(408, "request_timeout", "the body came too slowly", CLOSE)
        except MycliError as error:
            headers = CLOSE if isinstance(error, TooLarge) else []
            status = int(http_status_of(error))
            return await request.error(status, error.code, error.message, headers)
        if request.path == "/openapi.json" and request.method == "GET":
            return await request.reply(200, JSON, self.openapi_document())
        event = request.event(text, body)
        if request.method == "GET" and not request.waits:
            # A read is short and waits on nothing (SQLite in WAL mode), so it is answered on
            # the event loop: handing it to a worker thread and back cost more CPU than the
            # read itself (bench/load.py: about half the CPU per listing). Writes, uploads
            # and long polls go to their bounded pools.
            result = self.resolve(event)
        else:
            pool = self._waiting if request.waits else self._workers
            result = await asyncio.get_running_loop().run_in_executor(pool, self.resolve, event)
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        reply_headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            reply_headers.setdefault(name.lower(), ", ".join(values))
        reply_headers.pop("content-length", None)
        status = int(result["statusCode"])
        return await request.reply(
            status,
            [(name.encode(), str(value).encode()) for name, value in reply_headers.items()],
            data,
        )

    async def _receive_upload(self, request: _Request) -> int:
        """PUT of an archive to a slot URL (what S3's presigned URL is in the AWS deployment),
        written to disk as it arrives."""
        length = request.content_length
        if self.uploads is None or length is None:
            return await request.error(
                411, "length_required", "send the archive with a Content-Length", CLOSE
            )
        token = parse_qs(request.query).get("token", [""])[0]
        stream = _BodyStream(request, asyncio.get_running_loop())
        uploads = self.uploads
        try:
            upload = await asyncio.get_running_loop().run_in_executor(
                self._transfers,
                lambda: uploads.receive(request.upload_id, token, stream, length, self.clock.now()),
            )
        except MycliError as error:
            # The body may be partly unread: the connection cannot carry another request.
            return await request.error(int(http_status_of(error)), error.code, error.message, CLOSE)
        logger.info("PUT upload %s %d bytes", upload.upload_id, upload.size)
        body = json.dumps({"upload_id": upload.upload_id, "size": upload.size}).encode()
        return await request.reply(200, JSON, body)


class _Server(uvicorn.Server):
    """uvicorn's server, telling the platform when it starts to stop: requests still
    waiting (long-polls) must be answered before the graceful-shutdown period cancels them
    with a 500."""

    def __init__(self, on_stopping: Callable[[], None] | None, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._on_stopping = on_stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_stopping is not None:
            self._on_stopping()
        await super().shutdown(sockets)


class _ClientGone(Exception):
    pass


class _BodyTimeout(Exception):
    pass


class _Request:
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
            raise _BodyTimeout from None
        if message["type"] == "http.disconnect":
            raise _ClientGone
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
        length = [(b"content-length", str(len(data)).encode())]
        await self._send(
            {"type": "http.response.start", "status": status, "headers": headers + length}
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


def _checked_text(body: bytes) -> str | None:
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


class _BodyStream:
    """A blocking `read` over the request body, for the upload store on a transfer thread."""

    def __init__(self, request: _Request, loop: asyncio.AbstractEventLoop) -> None:
        self._request = request
        self._loop = loop
        self._buffer = bytearray()
        self._ended = False

    def read(self, size: int = -1, /) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            future = asyncio.run_coroutine_threadsafe(self._request.chunk(), self._loop)
            try:
                part = future.result()
            except (_BodyTimeout, _ClientGone):
                part = None  # a short body: the store refuses it and keeps nothing
            if part is None:
                self._ended = True
            else:
                self._buffer += part
        end = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


def _protocol_class(header_timeout: float) -> type[HttpToolsProtocol]:
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
                self.parser.feed_data(data)
                if self._header_deadline is not None:  # still reading a request's headers
                    self._header_bytes += len(data)
                    if self._header_bytes > MAX_HEADER_BYTES:
                        self._refuse(431, "headers_too_large", "request headers over 64 KiB")
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
            body = error_body(code, message).encode()
            lines = [
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                "content-type: application/json",
                f"content-length: {len(body)}",
                "connection: close",
            ]
            if status == 405:
                lines.append(f"allow: {', '.join(METHODS)}")
            self.transport.write("\r\n".join([*lines, "", ""]).encode() + body)
            self.transport.close()

        def on_headers_complete(self) -> None:
            self._disarm_header_deadline()
            super().on_headers_complete()

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


# -- running the server as a process ---------------------------------------------------------


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """What the server wrote once it was listening (pid, url), if readable."""
    try:
        state: dict[str, Any] = json.loads(state_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return state


def running_state(data_dir: Path) -> dict[str, Any] | None:
    """The state of the server that holds `data_dir`, or None when none does."""
    lock_path = data_dir / LOCK_FILE
    if not lock_path.exists():
        return None
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_state(data_dir) or {"url": None, "pid": None}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    secure_data_dir(data_dir)
    with private_file(data_dir / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"mycli: error: another server is using {data_dir}") from None
        yield


def serve(
    settings: LocalSettings,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT: recover what a dead server left, serve, stop cleanly."""
    with _exclusive(settings.data_dir):
        platform = LocalPlatform(settings)
        platform.recover()
        _purge_uploads_periodically(platform)
        server = LocalApiServer(
            platform.services,
            host,
            port,
            uploads=platform.uploads_store,
            clock=platform.clock,
            on_stopping=platform.log_waiter.release_all,
        )
        state = {"pid": os.getpid(), "url": server.url, "data_dir": str(settings.data_dir)}
        temporary = state_path(settings.data_dir).with_suffix(".tmp")
        with private_file(temporary, "w") as out:
            out.write(json.dumps(state))
        temporary.replace(state_path(settings.data_dir))

        def stop(signum: int, frame: object) -> None:
            server.stop_soon()

        # uvicorn takes these over while it serves, and calls them again once it stopped.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info(
            "mycli local server listening on %s (data in %s)", server.url, settings.data_dir
        )
        if on_ready is not None:
            on_ready(server.url)
        try:
            server.serve_forever()
        finally:
            platform.shutdown()
            state_path(settings.data_dir).unlink(missing_ok=True)
            logger.info("mycli local server stopped")


def _purge_uploads_periodically(platform: LocalPlatform) -> None:
    def purge_forever() -> None:
        while True:
            removed = platform.purge_uploads()
            if removed:
                logger.info("removed %d expired upload(s)", removed)
            pruned = platform.purge_logs()
            if pruned:
                logger.info("removed %d log(s) past the retention", pruned)
            time.sleep(UPLOAD_PURGE_INTERVAL_SECONDS)

    threading.Thread(target=purge_forever, name="upload-purge", daemon=True).start()
