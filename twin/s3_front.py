"""S3's POST policy checks, in front of a moto server (moto stores a POST without checking
its policy). A real HTTP server on 127.0.0.1: a browser-style POST (a multipart form to a
bucket) has its form parsed and the policy's expiration and conditions evaluated as S3
documents them (every field but the signature, `policy` and `file` must be covered by a
condition); a violation gets S3's error, a valid form goes on to moto. Every other request
(the SDK's GET, PUT, HEAD, DELETE, presigned URLs) is passed to moto as it came. The front
can also answer the next form POSTs with a fault (tests of the writers' retries), and
refuse every form POST whose key starts with a prefix listed in a file (`refusals`, one
prefix a line; the twin's fault hook for tests, see docs/aws-twin.md)."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

UNCHECKED_FIELDS = {"file", "policy", "x-amz-signature", "signature"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
UPSTREAM_TIMEOUT_SECONDS = 60
REFUSED_BY_HOOK = "Access Denied (the twin's fault hook refuses this key)"


class PolicyViolation(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """A multipart form's fields and its `file`."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    data = b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise PolicyViolation(400, "MalformedPOSTRequest", "a form part is unreadable")
        if name == "file":
            data = payload
        else:
            fields[name] = payload.decode()
    return fields, data


def check_policy(bucket: str, fields: dict[str, str], data: bytes) -> None:
    """Raise PolicyViolation where S3 would refuse this form."""
    if "policy" not in fields:
        raise PolicyViolation(403, "AccessDenied", "Bucket POST must contain a policy")
    policy = json.loads(base64.b64decode(fields["policy"]))
    expiration = datetime.fromisoformat(policy["expiration"])
    if expiration <= datetime.now(UTC):
        raise PolicyViolation(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = {**{name.lower(): value for name, value in fields.items()}, "bucket": bucket}
    covered = set()
    for stated in policy["conditions"]:
        condition = stated
        if isinstance(stated, dict):
            [(name, expected)] = stated.items()
            condition = ["eq", f"${name}", expected]
        operator, subject, *rest = condition
        if operator == "content-length-range":
            low, high = subject, rest[0]
            if not low <= len(data) <= high:
                code = "EntityTooLarge" if len(data) > high else "EntityTooSmall"
                raise PolicyViolation(400, code, "Your proposed upload exceeds the limits")
            continue
        name = subject.lstrip("$").lower()
        covered.add(name)
        value = values.get(name, "")
        if (operator == "eq" and value != rest[0]) or (
            operator == "starts-with" and not value.startswith(rest[0])
        ):
            raise PolicyViolation(
                403,
                "AccessDenied",
                f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}",
            )
    for name in values:
        if name not in covered | UNCHECKED_FIELDS and not name.startswith("x-ignore-"):
            raise PolicyViolation(
                403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {name}"
            )


class PolicyFront:
    """The server's state: where to pass requests on, and faults to answer with first."""

    def __init__(self, upstream: str, refusals: Path | None = None) -> None:
        self.upstream = upstream
        self.faults: list[int] = []  # statuses for the next form POSTs, in order
        self.posts: list[dict[str, str]] = []  # the fields of every form received
        self.lock = threading.Lock()
        self.refusals = refusals  # a file of key prefixes whose POSTs are refused

    def refused(self, key: str) -> bool:
        """Whether `key` starts with a prefix listed in the refusals file (read each time)."""
        if self.refusals is None:
            return False
        try:
            prefixes = self.refusals.read_text().splitlines()
        except OSError:
            return False
        return any(prefix and key.startswith(prefix) for prefix in prefixes)


def is_form_post(method: str, path: str, content_type: str) -> bool:
    """A browser-style POST: a multipart form to a bucket (`/bucket`, path-style)."""
    bucket_path = path.split("?", 1)[0].strip("/")
    return (
        method == "POST"
        and bool(bucket_path)
        and "/" not in bucket_path
        and content_type.lower().startswith("multipart/form-data")
    )


def _handler(front: PolicyFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self._body()
            if not is_form_post("POST", self.path, self.headers.get("Content-Type") or ""):
                return self._forward("POST", body)
            with front.lock:
                fault = front.faults.pop(0) if front.faults else None
            if fault is not None:
                return self._error(fault, "SlowDown", "Please reduce your request rate.")
            try:
                fields, data = parse_form(self.headers["Content-Type"], body)
                with front.lock:
                    front.posts.append(fields)
                if front.refused(fields.get("key", "")):
                    raise PolicyViolation(403, "AccessDenied", REFUSED_BY_HOOK)
                check_policy(self.path.strip("/").split("/")[0].split("?")[0], fields, data)
            except PolicyViolation as violation:
                return self._error(violation.status, violation.code, str(violation))
            except (ValueError, KeyError, TypeError) as error:
                return self._error(400, "InvalidPolicyDocument", f"unreadable policy: {error}")
            self._forward("POST", body)

        def do_GET(self) -> None:
            self._forward("GET", self._body())

        def do_PUT(self) -> None:
            self._forward("PUT", self._body())

        def do_HEAD(self) -> None:
            self._forward("HEAD", self._body())

        def do_DELETE(self) -> None:
            self._forward("DELETE", self._body())

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self, method: str, body: bytes) -> None:
            target = urlsplit(front.upstream)
            connection = http.client.HTTPConnection(
                target.hostname or "127.0.0.1", target.port, timeout=UPSTREAM_TIMEOUT_SECONDS
            )
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or method in ("POST", "PUT"):
                headers["Content-Length"] = str(len(body))
            try:
                connection.request(method, self.path, body=body or None, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
                length = answer.getheader("Content-Length")
                self._answer(answer.status, payload, kept, head_length=length)
            except OSError as error:
                self._error(503, "ServiceUnavailable", f"the S3 stand-in is unreachable: {error}")
            finally:
                connection.close()

        def _error(self, status: int, code: str, message: str) -> None:
            xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            self._answer(status, xml.encode(), [("Content-Type", "application/xml")])

        def _answer(
            self,
            status: int,
            payload: bytes,
            headers: list[tuple[str, str]],
            head_length: str | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", head_length or "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


class RunningFront:
    """A front serving on 127.0.0.1 (`port` 0: any free one) until `close`."""

    def __init__(self, upstream: str, port: int = 0, refusals: Path | None = None) -> None:
        self.state = PolicyFront(upstream, refusals)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="twin-s3-front", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def policy_front(upstream: str) -> Iterator[tuple[str, PolicyFront]]:
    """(its URL, its state), for the duration of the block."""
    front = RunningFront(upstream)
    try:
        yield front.url, front.state
    finally:
        front.close()
