"""A small HTTP client for the mycli API (stdlib only, keep-alive, one-line errors)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlencode, urlsplit

from mycli import __version__
from mycli.errors import ApiError, ConfigError, ConnectionFailed

IDEMPOTENT = frozenset({"GET", "DELETE", "PUT"})


class ApiClient:
    def __init__(self, api_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"invalid API URL '{api_url}': expected http(s)://host[:port][/path]")
        self.api_url = api_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body=body if body is not None else {})

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        target = self._base_path + path
        filtered = {k: v for k, v in (query or {}).items() if v is not None}
        if filtered:
            target += "?" + urlencode(filtered)
        headers = {"Accept": "application/json", "User-Agent": f"mycli/{__version__}"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        attempts = 2 if method in IDEMPOTENT else 1
        for attempt in range(attempts):
            reused = self._connection is not None
            try:
                status, data = self._send(method, target, payload, headers)
                break
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if reused and attempt + 1 < attempts:
                    continue
                raise ConnectionFailed(f"cannot reach {self.api_url}: {_reason(exc)}") from exc
        return _decode(status, data, self.api_url)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self._connection is None:
            if self._scheme == "https":
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        self._connection.request(method, target, body=payload, headers=headers)
        response = self._connection.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        return response.status, data


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
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running? try `mycli local up`)"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
