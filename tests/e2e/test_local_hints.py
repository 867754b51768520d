"""What `mycli` tells a user who is finding their way: a busy port, where the console and the
admin key are, `mycli console`, and a force-released lock whose run goes on."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from deployment import MYCLI, LocalDeployment

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


@pytest.mark.embedded_only("`mycli local up` and `local status` of this machine")
def test_up_and_status_name_the_console_and_where_the_admin_key_is(tmp_path: Path) -> None:
    local = LocalDeployment(tmp_path)
    started = local.mycli("local", "up", "--background", "--port", "0", check=True)
    try:
        config_file = tmp_path / "config" / "mycli" / "config.toml"
        console = f"{local.url}/ui/"
        again = local.mycli("local", "up", "--background", "--port", "0", check=True)
        status = local.mycli("local", "status", check=True)
        status_json = json.loads(local.mycli("local", "status", "-o", "json", check=True).stdout)
        page = _get(console)
    finally:
        local.down()

    where = [
        f"mycli: web console at {console} (`mycli console` opens it)",
        f"mycli: admin key saved in profile 'local' of {config_file}",
    ]
    assert started.stderr.splitlines()[1:3] == where
    assert again.stderr.splitlines()[1:] == where
    assert local.admin_key not in started.stderr + again.stdout + again.stderr + status.stdout
    assert status.stdout.splitlines()[1:] == [
        f"console: {console}",
        f"admin key: in profile 'local' of {config_file}",
    ]
    assert status_json["console_url"] == console
    assert (status_json["profile"], status_json["config_file"]) == ("local", str(config_file))
    assert "<html" in page.lower()


@pytest.mark.embedded_only("opens this machine's browser")
def test_console_opens_the_browser_or_prints_the_url_without_one(tmp_path: Path) -> None:
    local = LocalDeployment(tmp_path)
    local.up()
    try:
        console = f"{local.url}/ui/"
        opened_url = tmp_path / "opened"
        browser = tmp_path / "browser"
        browser.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> {opened_url}\n")
        browser.chmod(0o755)
        with_browser = {"DISPLAY": ":0", "BROWSER": str(browser)}

        opened = _mycli(local, "console", **with_browser)
        printed = _mycli(local, "console", "--print", **with_browser)
        headless = _mycli(local, "console", DISPLAY="", WAYLAND_DISPLAY="", BROWSER=str(browser))
    finally:
        local.down()

    assert opened.stderr == f"mycli: opened {console} in your browser\n"
    assert opened.stdout == ""
    assert printed.stdout == headless.stdout == f"{console}\n"
    assert opened_url.read_text() == f"{console}\n"  # once: `--print` and headless open nothing


def test_a_force_release_warns_that_the_run_goes_on_and_how_to_stop_it(
    deployment: LocalDeployment,
) -> None:
    holder = deployment.mycli(
        "exec", "-d", "--lock", "db", "--", "sleep 30", check=True
    ).stdout.strip()
    deployment.wait_status(holder, ("RUNNING",))

    released = deployment.mycli("locks", "release", "db", check=True)
    cancel_command = released.stderr.split("stop it with: ")[1].strip()
    cancelled = deployment.mycli(*cancel_command.split()[1:], check=True)

    assert released.stdout == f"released lock 'db' (held by admin@localhost, execution {holder})\n"
    assert released.stderr == (
        f"mycli: warning: execution {holder} is still RUNNING, now without the lock; "
        f"stop it with: mycli cancel {holder}\n"
    )
    assert cancelled.returncode == 0
    assert deployment.wait_status(holder, ("CANCELLED",))["status"] == "CANCELLED"


def _mycli(local: LocalDeployment, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYCLI, *args],
        env={**local.env, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: str = response.read().decode()
        return body
