"""HTTP for the CLI on the standard library's http.client: one keep-alive connection, the
proxies of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), TLS verified
against certifi's bundle (or SSL_CERT_FILE / SSL_CERT_DIR) as httpx did.

http.client imports in a few ms where httpx takes ~85 ms (issue 20: `mycli exec -- true`
in under 100 ms); `ssl` is imported only for an https connection."""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

_DROPPED = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class TransportError(Exception):
    """The request got no HTTP answer."""


class ConnectError(TransportError):
    """The connection could not be opened (refused, unknown host, unreachable)."""


class TimedOut(TransportError):
    """No answer within the timeout."""


# NamedTuples, not dataclasses: `dataclasses` imports `inspect` (~8 ms of every command).
class Response(NamedTuple):
    status_code: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes


class _Route(NamedTuple):
    """Where to connect and what to put on the request line."""

    scheme: str  # of the connection: "http" or "https"
    host: str
    port: int
    tunnel: tuple[str, int] | None  # CONNECT through an http proxy to this https origin
    absolute: bool  # an http request through a proxy names the whole URL


class Transport:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._route: _Route | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        parts = urlsplit(url)
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, _encode(params or {})) if q)
        if query:
            target += "?" + query
        route = route_for(parts.scheme, parts.hostname or "", _port(parts.scheme, parts.port))
        if route.absolute:
            target = f"{parts.scheme}://{parts.netloc}{target}"
        sent = {"Host": parts.netloc, **(headers or {})}
        if content is None and method in ("POST", "PUT", "PATCH"):
            content = b""
        reused = self._connection is not None and self._route == route
        try:
            return self._send(route, method, target, content, sent)
        except _DROPPED as exc:
            self.close()
            if not reused:
                raise TransportError(f"the server closed the connection ({exc})") from exc
        # The server closed the idle keep-alive connection: once more on a fresh one.
        try:
            return self._send(route, method, target, content, sent)
        except _DROPPED as exc:
            self.close()
            raise TransportError(f"the server closed the connection ({exc})") from exc

    def _send(
        self,
        route: _Route,
        method: str,
        target: str,
        content: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        connection = self._connect(route)
        try:
            connection.request(method, target, body=content, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except TimeoutError as exc:
            self.close()
            raise TimedOut("timed out") from exc
        except _DROPPED:
            raise
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(str(exc) or type(exc).__name__) from exc
        if answer.will_close:
            self.close()
        names = {name.lower(): value for name, value in answer.getheaders()}
        return Response(answer.status, names, data)

    def _connect(self, route: _Route) -> http.client.HTTPConnection:
        if self._connection is not None and self._route == route:
            return self._connection
        self.close()
        connection: http.client.HTTPConnection
        if route.scheme == "https":
            connection = http.client.HTTPSConnection(
                route.host, route.port, timeout=self._timeout, context=_tls_context()
            )
        else:
            connection = http.client.HTTPConnection(route.host, route.port, timeout=self._timeout)
        if route.tunnel is not None:
            connection.set_tunnel(*route.tunnel)
        try:
            connection.connect()
        except TimeoutError as exc:
            raise TimedOut("timed out") from exc
        except socket.gaierror as exc:
            raise ConnectError(f"unknown host ({exc.strerror or exc})") from exc
        except OSError as exc:
            connection.close()
            raise ConnectError(exc.strerror or str(exc)) from exc
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connection, self._route = connection, route
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._route = None


def route_for(scheme: str, host: str, port: int, environ: Mapping[str, str] = os.environ) -> _Route:
    """Direct, or through the proxy the environment names for this URL (httpx's trust_env)."""
    proxy = None if bypassed(host, environ) else proxy_url(scheme, environ)
    if proxy is None:
        return _Route(scheme, host, port, None, False)
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    proxy_scheme = parts.scheme.lower()
    proxy_port = _port(proxy_scheme, parts.port)
    if scheme == "https":
        return _Route(proxy_scheme, parts.hostname or "", proxy_port, (host, port), False)
    return _Route(proxy_scheme, parts.hostname or "", proxy_port, None, True)


def proxy_url(scheme: str, environ: Mapping[str, str]) -> str | None:
    for name in (f"{scheme}_proxy", "all_proxy"):
        value = environ.get(name) or environ.get(name.upper())
        if value:
            return value
    return None


def bypassed(host: str, environ: Mapping[str, str]) -> bool:
    """NO_PROXY: `*`, or a comma-separated list of hosts, each also matching its
    subdomains (`example.com` and `.example.com` both match `api.example.com`)."""
    value = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
    host = host.lower().strip("[]")
    for item in value.split(","):
        if item.strip() == "*":
            return True
        entry = item.strip().lower().strip("[]").lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def _encode(params: Mapping[str, Any]) -> str:
    """Query parameters as httpx encodes them: booleans as true/false."""
    pairs = [
        (name, ("true" if value else "false") if isinstance(value, bool) else str(value))
        for name, value in params.items()
    ]
    return urlencode(pairs)


def _tls_context() -> Any:
    """A verifying context, made only for an https connection (loading the CA bundle takes
    tens of ms, which plain-HTTP commands never pay)."""
    import ssl

    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:
            pass
    return ssl.create_default_context(cafile=cafile, capath=capath)
