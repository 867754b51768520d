"""S3's POST policy checks, in front of a moto server (moto stores a POST without checking
its policy). A real HTTP server on 127.0.0.1: it parses the form, evaluates the policy's
expiration and conditions as S3 documents them (every field but the signature, `policy`
and `file` must be covered by a condition), answers S3's error on a violation and passes
the request on to moto otherwise. It can also answer the next requests with a fault."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UNCHECKED_FIELDS = {"file", "policy", "x-amz-signature", "signature"}


class PolicyViolation(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    data = b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        if name == "file":
            data = payload
        else:
            fields[name] = payload.decode()
    return fields, data


def check_policy(bucket: str, fields: dict[str, str], data: bytes) -> None:
    """Raise PolicyViolation where S3 would refuse this form."""
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

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[int] = []  # statuses for the next requests, in order
        self.posts: list[dict[str, str]] = []  # the fields of every form received
        self.lock = threading.Lock()


def _handler(front: PolicyFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with front.lock:
                fault = front.faults.pop(0) if front.faults else None
            if fault is not None:
                return self._error(fault, "SlowDown", "Please reduce your request rate.")
            fields, data = parse_form(self.headers["Content-Type"], body)
            with front.lock:
                front.posts.append(fields)
            try:
                check_policy(self.path.strip("/").split("/")[0], fields, data)
            except PolicyViolation as violation:
                return self._error(violation.status, violation.code, str(violation))
            forwarded = urllib.request.Request(
                front.upstream + self.path,
                data=body,
                method="POST",
                headers={"Content-Type": self.headers["Content-Type"]},
            )
            try:
                with urllib.request.urlopen(forwarded, timeout=10) as answer:
                    status, payload = answer.status, answer.read()
            except urllib.error.HTTPError as error:
                status, payload = error.code, error.read()
            self._answer(status, payload)

        def _error(self, status: int, code: str, message: str) -> None:
            xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            self._answer(status, xml.encode())

        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def policy_front(upstream: str) -> Iterator[tuple[str, PolicyFront]]:
    """(its URL, its state), for the duration of the block."""
    front = PolicyFront(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(front))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", front
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
