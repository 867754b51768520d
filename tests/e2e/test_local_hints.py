"""What `mycli` tells a user who is finding their way: a busy port, where the console and the
admin key are, `mycli console`, and a force-released lock whose run goes on."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from deployment import LocalDeployment

pytestmark = pytest.mark.e2e

PORT_HINT = "start on another one with `mycli local up --port N` (--port 0 picks a free one)"


@pytest.mark.embedded_only("`mycli local up`'s own port")
def test_a_busy_port_is_one_line_naming_it_and_suggesting_another(tmp_path: Path) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = str(other_program.getsockname()[1])
        local = LocalDeployment(tmp_path)

        background = local.mycli("local", "up", "--background", "--port", port)
        foreground = local.mycli("local", "up", "--port", port)

    for refused in (background, foreground):
        assert refused.returncode == 5, refused.stderr
        error = refused.stderr.strip().splitlines()[-1]
        assert error == (
            f"mycli: error: port {port} on 127.0.0.1 is already in use (another program has "
            f"it); {PORT_HINT}"
        )
        assert "Traceback" not in refused.stderr
    assert local.mycli("local", "status").returncode == 1


@pytest.mark.embedded_only("`mycli local up`'s own port")
def test_a_port_another_mycli_serves_is_named_as_such(tmp_path: Path) -> None:
    first = LocalDeployment(tmp_path / "first")
    first.up()
    try:
        port = str(urlsplit(first.url).port)
        version = json.loads(_get(first.url + "/health"))["version"]
        refused = LocalDeployment(tmp_path / "second").mycli(
            "local", "up", "--background", "--port", port
        )
    finally:
        first.down()

    assert refused.returncode == 5
    assert refused.stderr.strip().splitlines() == [
        f"mycli: error: port {port} on 127.0.0.1 is already in use (a mycli server, version "
        f"{version}, runs there); {PORT_HINT}"
    ]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: str = response.read().decode()
        return body
