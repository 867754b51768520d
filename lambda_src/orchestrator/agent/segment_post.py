"""Puts output objects in S3 through a presigned POST policy (standard library only).

The create function signs a policy that lets the agent write under its run's output prefix
and nowhere else (see adapters/aws/s3_output.py); the agent holds no AWS credentials for
it. Transient failures (no connection, 5xx, 408, 429) are retried with backoff; any other
answer is a refusal, reported to the caller, which ends the run FAILED."""

from __future__ import annotations

import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

ATTEMPTS = 5
FIRST_RETRY_DELAY = 0.2  # seconds, doubled after each failed attempt
REQUEST_TIMEOUT = 30.0
_RETRIED_STATUSES = (408, 429)
_FIELD_TEXT = re.compile(r"\A[\x20-\x7e]*\Z")  # printable ASCII: safe inside the form
_XML_TAG = "<{tag}>([^<]{{0,300}})</{tag}>"


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes) -> None:
        """Store `body` at `key`; raises WriteRefused or WriteFailed."""
        ...


class WriteRefused(Exception):
    """The store answered no (a 4xx: policy expired or violated, no such bucket...)."""

    def __init__(self, key: str, status: int, code: str, message: str) -> None:
        super().__init__(f"output store refused {key}: HTTP {status} {code} {message}".strip())
        self.status = status
        self.code = code


class WriteFailed(Exception):
    """Transient failures went on past the last retry."""


@dataclass(frozen=True)
class PostSlot:
    """A presigned POST: where to send the form, the signed fields, the prefix keys must use."""

    url: str
    fields: Mapping[str, str]
    prefix: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PostSlot:
        """Checked, since it arrives in the run's manifest."""
        url, fields, prefix = raw.get("url"), raw.get("fields"), raw.get("prefix")
        if not (isinstance(url, str) and urlsplit(url).scheme in ("http", "https")):
            raise ValueError("output slot: url must be http(s)")
        if not (isinstance(prefix, str) and prefix.endswith("/") and _FIELD_TEXT.match(prefix)):
            raise ValueError("output slot: prefix must be printable ASCII ending in /")
        if not isinstance(fields, dict) or not all(
            isinstance(name, str)
            and isinstance(value, str)
            and _FIELD_TEXT.match(name)
            and _FIELD_TEXT.match(value)
            and '"' not in name
            for name, value in fields.items()
        ):
            raise ValueError("output slot: fields must be printable ASCII strings")
        return cls(url, dict(fields), prefix)


class PresignedPostStore:
    """An ObjectStore writing each object with one multipart/form-data POST."""

    def __init__(
        self,
        slot: PostSlot,
        attempts: int = ATTEMPTS,
        first_delay: float = FIRST_RETRY_DELAY,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._slot = slot
        self._attempts = attempts
        self._first_delay = first_delay
        self._sleep = sleep
        self._timeout = timeout

    def put(self, key: str, body: bytes) -> None:
        if not key.startswith(self._slot.prefix) or not _FIELD_TEXT.match(key):
            raise ValueError(f"key outside the output prefix: {key!r}")
        form, content_type = multipart_form({**self._slot.fields, "key": key}, body)
        delay = self._first_delay
        for attempt in range(1, self._attempts + 1):
            failure = self._post_once(key, form, content_type)
            if failure is None:
                return
            if attempt == self._attempts:
                raise WriteFailed(f"output store unreachable for {key}: {failure}")
            self._sleep(delay)
            delay *= 2

    def _post_once(self, key: str, form: bytes, content_type: str) -> str | None:
        """None once stored; a transient failure's description; raises WriteRefused."""
        request = urllib.request.Request(
            self._slot.url, data=form, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                answer.read()
            return None
        except urllib.error.HTTPError as error:
            text = error.read(4096).decode("utf-8", "replace")
            error.close()
            if error.code >= 500 or error.code in _RETRIED_STATUSES:
                return f"HTTP {error.code}"
            raise WriteRefused(key, error.code, _xml(text, "Code"), _xml(text, "Message")) from None
        except (urllib.error.URLError, OSError) as error:
            return f"{type(error).__name__}: {error}"


def multipart_form(fields: Mapping[str, str], body: bytes) -> tuple[bytes, str]:
    """The form S3 expects: the fields, then the object as `file` (it must come last)."""
    boundary = secrets.token_hex(16)
    while boundary.encode() in body:  # vanishingly rare, but the bytes are the command's
        boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="output"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    form = b"".join(parts) + body + f"\r\n--{boundary}--\r\n".encode()
    return form, f"multipart/form-data; boundary={boundary}"


def _xml(text: str, tag: str) -> str:
    found = re.search(_XML_TAG.format(tag=tag), text)
    return found.group(1) if found else ""
