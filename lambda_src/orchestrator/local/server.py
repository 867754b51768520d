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
import dataclasses
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs

import uvicorn
from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.uploads import SLOT_PATH, LocalUploadStore
from orchestrator.api.app import Api, openapi_json
from orchestrator.api.errors import http_status_of
from orchestrator.domain.errors import MycliError, TooLarge
from orchestrator.domain.services import Services
from orchestrator.local.http_protocol import protocol_class
from orchestrator.local.http_request import (
    CLOSE,
    JSON,
    METHODS,
    BodyStream,
    BodyTimeout,
    ClientGone,
    Receive,
    Request,
    Scope,
    Send,
    checked_text,
)
from orchestrator.ports import Clock

logger = logging.getLogger("mycli.server")

MAX_BODY_BYTES = 1024 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
        listener: socket.socket | None = None,
    ) -> None:
        self._services = services
        self._apis = threading.local()
        self._openapi: bytes | None = None
        self.uploads = uploads
        self.clock = clock or SystemClock()
        self.limits = limits or ServerLimits.from_environment()
        self._socket = listener or listening_socket(host, port, self.limits.backlog)
        self._workers = ThreadPoolExecutor(self.limits.workers, "api")
        self._waiting = ThreadPoolExecutor(self.limits.waiting_workers, "api-wait")
        self._transfers = ThreadPoolExecutor(self.limits.upload_workers, "upload")
        self._stopped = threading.Event()
        self._server = _Server(
            on_stopping,
            uvicorn.Config(
                self.asgi,
                http=protocol_class(self.limits.header_timeout),
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
            api = self._apis.api = Api(raw_bytes=True)
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
        request = Request(scope, receive, send, self.limits.body_timeout)
        status = await self._serve(request)
        logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
        )

    async def _serve(self, request: Request) -> int:
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
            text = checked_text(body)
        except ClientGone:
            return 499
        except BodyTimeout:
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
        if isinstance(payload, bytes):  # a binary body, as is (Api(raw_bytes=True))
            data = payload
        else:
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

    async def _receive_upload(self, request: Request) -> int:
        """PUT of an archive to a slot URL (what S3's presigned URL is in the AWS deployment),
        written to disk as it arrives."""
        length = request.content_length
        if self.uploads is None or length is None:
            return await request.error(
                411, "length_required", "send the archive with a Content-Length", CLOSE
            )
        token = parse_qs(request.query).get("token", [""])[0]
        stream = BodyStream(request, asyncio.get_running_loop())
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


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
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
