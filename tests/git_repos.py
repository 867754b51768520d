"""Real git repositories for the tests: a small history made with the git command, kept in a
bare repository, and served on 127.0.0.1 over HTTP by `git http-backend` (smart HTTP,
protocol v2; v0 under `/v0/`) behind a small threaded http.server, with HTTP basic auth
on the ones under `private/`. A server may instead redirect some requests elsewhere (to
another server, on another port), as a hostile or moved git server would."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PRIVATE_USER = "deploy"
PRIVATE_PASSWORD = "s3cr3t-git-t0ken-9f2c7e"
_GIT = [
    "git",
    "-c",
    "user.email=t@example.com",
    "-c",
    "user.name=t",
    "-c",
    "init.defaultBranch=main",
]


@dataclass(frozen=True)
class Repository:
    """A bare repository with this history: `first` (tagged v1: `app/run.sh` and VERSION
    1), `middle` (VERSION 2, no ref points at it), `main` (VERSION 3, the default branch),
    and branch `feature` (VERSION feature) on top of main."""

    path: Path
    first: str
    middle: str
    main: str
    feature: str

    def rev_parse(self, ref: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.path), "rev-parse", f"{ref}^{{commit}}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()


def make_repository(root: Path, name: str) -> Repository:
    """A work tree with a small history pushed to the bare repository `root/name`."""
    work = root / f"{name}-work"
    work.mkdir(parents=True)

    def git(*args: str) -> str:
        return subprocess.run(
            [*_GIT, "-C", str(work), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    (work / "app").mkdir()
    script = work / "app" / "run.sh"
    script.write_text('#!/bin/sh\necho "version $(cat ../VERSION) in $(basename "$PWD")"\n')
    script.chmod(0o755)
    (work / "VERSION").write_text("1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    git("tag", "-a", "v1", "-m", "release 1")
    first = git("rev-parse", "HEAD")
    (work / "VERSION").write_text("2\n")
    git("commit", "-q", "-am", "middle")
    middle = git("rev-parse", "HEAD")
    (work / "VERSION").write_text("3\n")
    git("commit", "-q", "-am", "main")
    main = git("rev-parse", "HEAD")
    git("checkout", "-q", "-b", "feature")
    (work / "VERSION").write_text("feature\n")
    git("commit", "-q", "-am", "feature")
    feature = git("rev-parse", "HEAD")
    git("checkout", "-q", "main")
    bare = root / name
    subprocess.run([*_GIT, "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return Repository(bare, first=first, middle=middle, main=main, feature=feature)


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and the
    certificate's file (for GIT_SSL_CAINFO)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@dataclass
class GitHttpServer:
    """`git http-backend` for every bare repository under `root`, on 127.0.0.1."""

    root: Path
    # Redirect the requests of these methods (all before authentication) to `redirect_to`
    # followed by the request's path and query, with this status.
    redirect_to: str | None = None
    redirect_status: int = 302
    redirect_methods: tuple[str, ...] = ("GET", "POST")
    # (method, path) of every request, and (path, Authorization header) of every request
    # that carried one
    requests: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[tuple[str, str]] = field(default_factory=list)
    # Serve https with this context (see self_signed) instead of http
    tls: ssl.SSLContext | None = None
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def start(self) -> GitHttpServer:
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._backend()

            def do_POST(self) -> None:
                self._backend()

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _backend(self) -> None:
                parts = urlsplit(self.path)
                # /v0/...: as a server that speaks only protocol v0, which refuses to send
                # a commit no ref points at.
                old_protocol = parts.path.startswith("/v0/")
                path = parts.path.removeprefix("/v0")
                authorization = self.headers.get("Authorization", "")
                served.requests.append((self.command, path))
                if authorization:
                    served.authorizations.append((path, authorization))
                if served.redirect_to and self.command in served.redirect_methods:
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self.send_response(served.redirect_status)
                    self.send_header("Location", served.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                expected = (
                    "Basic "
                    + base64.b64encode(f"{PRIVATE_USER}:{PRIVATE_PASSWORD}".encode()).decode()
                )
                if path.startswith("/private/") and authorization != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ["PATH"],
                    "GIT_PROJECT_ROOT": str(served.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(length),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "HTTP_GIT_PROTOCOL": ""
                    if old_protocol
                    else self.headers.get("Git-Protocol", ""),
                    "REMOTE_ADDR": "127.0.0.1",
                }
                result = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
                )
                head, _, payload = result.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
