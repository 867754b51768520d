"""A real `mycli local up --background` deployment in a temporary home, driven through the
real `mycli` command as a subprocess."""

from __future__ import annotations

import json
import os
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

MYCLI = str(Path(sys.executable).parent / "mycli")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")


@dataclass
class LocalDeployment:
    home: Path

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
            [MYCLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def up(self, *extra: str) -> None:
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

    def execution(self, execution_id: str, key: str | None = None) -> dict[str, Any]:
        result = self.mycli("status", execution_id, "-o", "json", key=key, check=True)
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def locks(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            self.mycli("locks", "list", "-o", "json", check=True).stdout
        )
        return items

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


@contextmanager
def running_deployment(home: Path, *up_options: str) -> Iterator[LocalDeployment]:
    """A deployment in `home`, up (with `up_options`) for the block and down after it."""
    deployment = LocalDeployment(home)
    deployment.up(*up_options)
    try:
        yield deployment
    finally:
        deployment.down()
