"""The local HTTP host: serves the same Powertools routers as the Lambda functions, on
127.0.0.1, translating each request into an API Gateway REST proxy event."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.uploads import SLOT_PATH, LocalUploadStore
from orchestrator.api.app import Api, openapi_json
from orchestrator.api.errors import error_body, http_status_of
from orchestrator.domain.errors import MycliError
from orchestrator.domain.services import Services
from orchestrator.local.platform import LocalPlatform, LocalSettings
from orchestrator.ports import Clock

logger = logging.getLogger("mycli.server")

MAX_BODY_BYTES = 1024 * 1024
UPLOAD_PURGE_INTERVAL_SECONDS = 3600
STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class LambdaContextStub:
    """What Powertools reads from a Lambda context, for requests served locally."""

    aws_request_id: str
    function_name: str = "mycli-local"
    memory_limit_in_mb: int = 0
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:mycli-local"


class LocalApiServer:
    """A threading HTTP server; each thread keeps its own Api (Powertools resolvers hold the
    current event, so one must never serve two requests at once)."""

    def __init__(
        self,
        services: Services,
        host: str,
        port: int,
        uploads: LocalUploadStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._services = services
        self._apis = threading.local()
        self._openapi: bytes | None = None
        self.uploads = uploads
        self.clock = clock or SystemClock()
        server = self

        class Handler(_RequestHandler):
            api = server

        self.httpd = _HttpServer((host, port), Handler)
        if uploads is not None:
            uploads.base_url = self.url

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self.httpd.shutdown()

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


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections under a burst of clients.
    request_queue_size = 128


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mycli-local"
    # Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed
    # ACK would hold the body back ~40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    api: LocalApiServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged by `_handle`, without query strings (upload slot tokens)."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def _handle(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        if url.path.startswith(SLOT_PATH) and self.command == "PUT":
            self._receive_upload(url.path[len(SLOT_PATH) :], url.query)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply_error(413, "payload_too_large", f"body over {MAX_BODY_BYTES} bytes")
            return
        body = self.rfile.read(length) if length else b""
        if url.path == "/openapi.json" and self.command == "GET":
            self._reply(200, {"Content-Type": "application/json"}, self.api.openapi_document())
            return
        result = self.api.resolve(self._event(url.path, url.query, body))
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.setdefault(name, ", ".join(values))
        self._reply(result["statusCode"], headers, data)
        logger.info(
            "%s %s %s %.1fms",
            self.command,
            url.path,
            result["statusCode"],
            (time.perf_counter() - started) * 1000,
        )

    def _receive_upload(self, upload_id: str, query: str) -> None:
        """PUT of an archive to a slot URL (what S3's presigned URL is in the AWS deployment)."""
        if self.api.uploads is None or "Content-Length" not in self.headers:
            self.close_connection = True
            self._reply_error(411, "length_required", "send the archive with a Content-Length")
            return
        token = parse_qs(query).get("token", [""])[0]
        length = int(self.headers["Content-Length"])
        try:
            upload = self.api.uploads.receive(
                upload_id, token, self.rfile, length, self.api.clock.now()
            )
        except MycliError as error:
            self.close_connection = True  # the body may be unread
            self._reply_error(int(http_status_of(error)), error.code, error.message)
            return
        body = json.dumps({"upload_id": upload.upload_id, "size": upload.size}).encode()
        self._reply(200, {"Content-Type": "application/json"}, body)
        logger.info("PUT upload %s %d bytes", upload.upload_id, upload.size)

    def _event(self, path: str, query: str, body: bytes) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True) if query else {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            multi_headers.setdefault(name, []).append(value)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        request_id = str(uuid.uuid4())
        return {
            "resource": path,
            "path": path,
            "httpMethod": self.command,
            "headers": {name: values[-1] for name, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "stage": "local",
                "httpMethod": self.command,
                "path": path,
                "resourcePath": path,
                "identity": {"sourceIp": self.client_address[0]},
            },
            "body": text if body else None,
            "isBase64Encoded": encoded,
        }

    def _reply_error(self, status: int, code: str, message: str) -> None:
        body = error_body(code, message)
        self._reply(status, {"Content-Type": "application/json"}, body.encode())

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


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
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / LOCK_FILE).open("a") as handle:
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
            platform.services, host, port, uploads=platform.uploads_store, clock=platform.clock
        )
        state = {"pid": os.getpid(), "url": server.url, "data_dir": str(settings.data_dir)}
        temporary = state_path(settings.data_dir).with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(state_path(settings.data_dir))

        def stop(signum: int, frame: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

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
