"""The mycli API client: the standard library's http.client (mycli/transport.py: a few ms to
import, where httpx took ~85 ms of every command), keep-alive, bounded retries, one-line errors.

Reads (GET) retry connection errors (but not a refused first contact: the server is not
there), 429 (honouring Retry-After; never a quota refusal, `too_many_executions`) and
502/503/504 with exponential backoff for a bounded time; a follower's reads (`following`)
also retry 500 and any other 5xx, for a longer budget, so a follower survives a server
restart or a spell of AWS throttling. A POST is retried only when it carries an idempotency
key (the server then returns the first execution for a repeated key); other POSTs, PUTs and
DELETEs are sent once. HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY are honoured."""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from mycli import __version__
from mycli.errors import ApiError, ConfigError, ConnectionFailed
from mycli.transport import ConnectError, TimedOut, Transport, TransportError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
READ_RETRY_SECONDS = 20.0
# How long a follower (`exec`, `logs -f`) keeps retrying one poll before it gives up (exit
# 125 "lost the connection" for `exec`, 1 for `logs -f`): long enough for the local server
# to restart and for AWS throttling to pass (the server's Retry-After is 1 s, the stage's
# token bucket refills 20 requests/s), short enough that a server that is gone is reported
# within a minute; the run itself goes on either way (`mycli logs -f ID` picks it up).
FOLLOW_RETRY_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 30.0
RETRY_NOTICE = "mycli: connection lost, retrying…"
BUSY_NOTICE = "mycli: the server is busy (HTTP 429), retrying…"
# 429s that last until a run finishes or leaves a queue: reported at once, never retried.
LASTING_REFUSALS = frozenset({"too_many_executions", "queue_full"})
JSON = "application/json"
BINARY = "application/octet-stream"  # asked for by the log follower (mycli.log_pages)


def segment(value: str) -> str:
    """`value` as one percent-encoded path segment: `a b`, `?x` or `../x` never reach
    another route."""
    return quote(value, safe="")


def api_path(*segments: str) -> str:
    """'/' + the segments, each percent-encoded: api_path("executions", id, "logs")."""
    return "/" + "/".join(segment(part) for part in segments)


class ApiClient:
    def __init__(
        self,
        api_url: str,
        api_key: str | None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        *,
        retry_seconds: float = READ_RETRY_SECONDS,
        follow_retry_seconds: float = FOLLOW_RETRY_SECONDS,
        notify: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"invalid API URL '{api_url}': expected http(s)://host[:port][/path]")
        self.api_url = api_url.rstrip("/")
        self.retry_seconds = retry_seconds
        self.follow_retry_seconds = follow_retry_seconds
        self._api_key = api_key
        self._timeout = timeout
        self._notify = notify or _to_stderr
        self._sleep = sleep
        self._notified = False
        self._answered = False
        self._http: Transport | None = None

    def get(self, path: str, *, following: bool = False, accept: str = JSON, **query: Any) -> Any:
        """GET `path`; `following` (a log follower) retries for the longer follow budget.
        With `accept=BINARY`, a binary answer comes back as its bytes (JSON still decoded)."""
        return self.request("GET", path, query=query, following=following, accept=accept)

    def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        return self.request(
            "POST",
            path,
            body=body if body is not None else {},
            idempotency_key=idempotency_key,
        )

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        following: bool = False,
        accept: str = JSON,
    ) -> Any:
        """Send one request (retried as the module docstring says); the decoded JSON body,
        or ApiError / ConnectionFailed."""
        headers = {"Accept": accept, "User-Agent": f"mycli/{__version__}"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        retryable = method == "GET" or (method == "POST" and idempotency_key is not None)
        budget = self.follow_retry_seconds if following else self.retry_seconds
        deadline = time.monotonic() + (budget if retryable else 0)
        delay = BACKOFF_FIRST_SECONDS
        while True:
            wait: float | None = None
            notice = RETRY_NOTICE
            try:
                response = self._client().request(
                    method, self.api_url + path, params=params, content=content, headers=headers
                )
            except TransportError as exc:
                self.close()
                # Never reached: a wrong URL or a stopped server, not worth waiting for.
                first_contact = isinstance(exc, ConnectError) and not self._answered
                if not retryable or first_contact or time.monotonic() >= deadline:
                    raise ConnectionFailed(f"cannot reach {self.api_url}: {_reason(exc)}") from exc
            else:
                self._answered = True
                if not retryable or not _worth_retrying(response, following):
                    self._notified = False
                    if response.status_code < 400 and _is_binary(response, accept):
                        return response.content
                    return _decode(response.status_code, response.content, self.api_url)
                wait = _retry_after(response.headers.get("retry-after"))
                if time.monotonic() >= deadline:
                    return _decode(response.status_code, response.content, self.api_url)
                if response.status_code == 429:
                    notice = BUSY_NOTICE
            if not self._notified:
                self._notify(notice)
                self._notified = True
            pause = wait if wait is not None else delay * random.uniform(0.5, 1.0)
            self._sleep(max(0.0, min(pause, deadline - time.monotonic())))
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> Transport:
        if self._http is None:
            self._http = Transport(self._timeout)
        return self._http


def _to_stderr(message: str) -> None:
    from mycli.streams import start_own_line

    start_own_line()
    print(message, file=sys.stderr, flush=True)


def _worth_retrying(response: Any, following: bool = False) -> bool:
    """Throttling (429 `throttled`, from the API or API Gateway) and gateway errors pass, and
    for a follower any 5xx; a quota refusal (429 too_many_executions) or a full lock queue
    (429 queue_full) does not pass: it lasts until a run finishes, so it is reported at once."""
    status = response.status_code
    if status == 429:
        return _error_code(response.content) not in LASTING_REFUSALS
    return status in RETRY_STATUSES or (following and status >= 500)


def _is_binary(response: Any, accept: str) -> bool:
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return accept == BINARY and media_type == BINARY


def _error_code(data: bytes) -> str | None:
    """The `error.code` of an error body, if it is one."""
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError):
        return None
    return str(error.get("code")) if isinstance(error, dict) else None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), 60.0)


def _decode(status: int, data: bytes, api_url: str) -> Any:
    try:
        parsed = json.loads(data) if data else {}
    except ValueError:
        parsed = None
    if status < 400 and parsed is not None:
        return parsed
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        raise ApiError(
            status,
            str(error.get("code", "error")),
            str(error.get("message", "request failed")),
            error.get("details") or {},
        )
    if isinstance(parsed, dict) and "message" in parsed:  # API Gateway's own errors
        raise ApiError(status, "gateway_error", str(parsed["message"]), {})
    raise ApiError(status, "bad_response", f"unexpected HTTP {status} from {api_url}", {})


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, ConnectError) and "refused" in text.lower():
        return "connection refused (is the server running? try `mycli local up`)"
    if isinstance(exc, TimedOut):
        return "timed out"
    if isinstance(exc, ConnectError) and text.startswith("unknown host"):
        return "unknown host"
    return text or type(exc).__name__
