"""A real `mycli local up --background` deployment in a temporary home, driven through the
real `mycli` command as a subprocess; `new_deployment`/`running_deployment` give the chosen
backend's (MYCLI_E2E_BACKEND, set from `pytest --backend`: embedded or the twin)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MYCLI = str(Path(sys.executable).parent / "mycli")
# Starts a spawned CLI with SIGINT at its default (see that file): Ctrl-C tests test the CLI.
DEFAULT_SIGNALS = str(Path(__file__).with_name("default_signals.py"))
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")
BACKEND_VARIABLE = "MYCLI_E2E_BACKEND"


def backend() -> str:
    """The backend this run of the suite is on: `embedded` or `twin`."""
    return os.environ.get(BACKEND_VARIABLE, "embedded")


class WrongBackend(AssertionError):
    """An embedded deployment started while the suite runs on the twin: the test must take
    `new_deployment`/`running_deployment`, or be marked embedded_only with its reason."""


@dataclass
class LocalDeployment:
    home: Path
    # Who the admin key belongs to (`mycli local up` issues it to this address).
    admin_email = "admin@localhost"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "MYCLI_DATA_DIR": str(self.home / "data"),
        }

    @property
    def profile(self) -> dict[str, str]:
        config = tomllib.loads((self.home / "config" / "mycli" / "config.toml").read_text())
        profile: dict[str, str] = config["profiles"]["local"]
        return profile

    @property
    def url(self) -> str:
        return self.profile["api_url"]

    @property
    def admin_key(self) -> str:
        return self.profile["api_key"]

    @property
    def server_pid(self) -> int:
        return int(json.loads((self.home / "data" / "server.json").read_text())["pid"])

    def mycli(
        self, *args: str, key: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = self.env
        if key is not None:
            env["MYCLI_API_KEY"] = key
        result = subprocess.run(
            [MYCLI, *args], check=False, env=env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def spawn(self, *args: str, key: str | None = None) -> subprocess.Popen[str]:
        env = self.env
        if key is not None:
            env["MYCLI_API_KEY"] = key
        return subprocess.Popen(
            [sys.executable, DEFAULT_SIGNALS, MYCLI, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def up(self, *extra: str) -> None:
        if backend() != "embedded":
            raise WrongBackend(f"an embedded deployment on the {backend()} backend")
        self.mycli(
            "local", "up", "--background", "--port", "0", "--kill-grace", "1", *extra, check=True
        )

    def api(
        self,
        method: str,
        path: str,
        key: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """A raw API request, as any HTTP client could make it."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-API-Key": key, "Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def down(self) -> None:
        self.mycli("local", "down")

    def stored_data(self) -> bytes:
        """Every byte the deployment keeps at rest (the data directory, server log included),
        once ended runs' working directories are gone."""
        from data_files import stored_bytes, wait_for_cleanup

        wait_for_cleanup(self.home / "data")
        assert (self.home / "data" / "server.log").is_file()
        return stored_bytes(self.home / "data")

    def execution(self, execution_id: str, key: str | None = None) -> dict[str, Any]:
        result = self.mycli("status", execution_id, "-o", "json", key=key, check=True)
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def locks(self) -> list[dict[str, Any]]:
        """Every lock held or waited for (`mycli locks list -o json`'s {"locks": [...]})."""
        listing = json.loads(self.mycli("locks", "list", "-o", "json", check=True).stdout)
        locks: list[dict[str, Any]] = listing["locks"]
        return locks

    def add_user(self, email: str, role: str = "user") -> str:
        result = self.mycli("admin", "add-user", email, "--role", role, check=True)
        return result.stdout.strip()

    def wait_status(
        self, execution_id: str, wanted: tuple[str, ...], timeout: float = 15
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.execution(execution_id)
            if execution["status"] in wanted:
                return execution
            assert time.monotonic() < deadline, f"still {execution['status']}"
            time.sleep(0.05)


def new_deployment(home: Path) -> LocalDeployment:
    """A deployment (not up yet) in `home` on the suite's backend."""
    if backend() == "twin":
        from twin_deployment import TwinDeployment

        return TwinDeployment(home)
    return LocalDeployment(home)


@contextmanager
def running_deployment(home: Path, *up_options: str) -> Iterator[LocalDeployment]:
    """A deployment in `home` on the suite's backend, up (with `mycli local up`'s options,
    the twin taking their stack equivalents) for the block and down after it."""
    deployment = new_deployment(home)
    deployment.up(*up_options)
    try:
        yield deployment
    finally:
        deployment.down()


# -- HTTP over a raw socket, byte for byte as an attacker sends it ------------------------------


def connect(deployment: LocalDeployment) -> socket.socket:
    url = urlsplit(deployment.url)
    return socket.create_connection((url.hostname or "", url.port or 80), timeout=5)


def exchange(deployment: LocalDeployment, data: bytes, wait: float = 5) -> tuple[bytes, float]:
    """Send `data`, read until the server closes (or `wait` passes); what came back, and when
    the server closed (inf if it did not)."""
    started = time.monotonic()
    with connect(deployment) as connection:
        connection.settimeout(wait)
        connection.sendall(data)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            return received, float("inf")
    return received, time.monotonic() - started


def read_response(connection: socket.socket) -> bytes:
    """One whole response (headers and Content-Length body) from a kept-alive connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def error_of(response: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.split(b"\r\n\r\n", 1)[1])
    return body["error"]


def request(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + body


def headers_of(response: bytes) -> dict[str, list[str]]:
    """Each header of a response (names lowercased) with every value it was sent with."""
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    found: dict[str, list[str]] = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        found.setdefault(name.strip().lower(), []).append(value.strip())
    return found
