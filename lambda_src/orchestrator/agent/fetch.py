"""GETs through presigned URLs (the manifest, the upload, stdin), standard library only.
Transient failures (no connection, a timeout, 5xx, 408, 429) are retried with backoff;
any other answer (403: expired or wrong signature, 404) fails at once."""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ATTEMPTS = 4
FIRST_RETRY_DELAY = 0.5  # seconds, doubled after each failed attempt
TIMEOUT_SECONDS = 60.0
_RETRIED_STATUSES = (408, 429)


class FetchFailed(Exception):
    """The object could not be read: refused, too large, or unreachable past the retries."""


def _attempts(
    url: str,
    read: Callable[[urllib.request.Request], None],
    attempts: int,
    first_delay: float,
    sleep: Callable[[float], None],
) -> None:
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            read(urllib.request.Request(url, method="GET"))
            return
        except urllib.error.HTTPError as error:
            error.close()
            failure = f"HTTP {error.code}"
            if error.code < 500 and error.code not in _RETRIED_STATUSES:
                raise FetchFailed(failure) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            failure = f"{type(error).__name__}: {reason}"
        if attempt == attempts:
            raise FetchFailed(f"{failure} (after {attempts} attempts)")
        sleep(delay)
        delay *= 2


def fetch_bytes(
    url: str,
    max_bytes: int,
    attempts: int = ATTEMPTS,
    first_delay: float = FIRST_RETRY_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """The object at `url`, at most `max_bytes` of it (FetchFailed past that)."""
    body = bytearray()

    def read(request: urllib.request.Request) -> None:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            data = answer.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FetchFailed(f"larger than {max_bytes} bytes")
        body[:] = data

    _attempts(url, read, attempts, first_delay, sleep)
    return bytes(body)


def download(
    url: str,
    target: Path,
    attempts: int = ATTEMPTS,
    first_delay: float = FIRST_RETRY_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """The object at `url` into the file `target` (replaced on each attempt); its size."""

    def read(request: urllib.request.Request) -> None:
        with (
            urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer,
            target.open("wb") as out,
        ):
            shutil.copyfileobj(answer, out)

    _attempts(url, read, attempts, first_delay, sleep)
    return target.stat().st_size
