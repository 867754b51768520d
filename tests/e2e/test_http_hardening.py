"""The local server's HTTP layer under hostile input, over a raw socket on 127.0.0.1 against a
real `mycli local up`: ambiguous framing is refused and nothing smuggled runs, slow and idle
connections are cut off without holding up others, odd methods and bodies get 4xx, every
response under /ui/ carries the console's headers and every error `nosniff`, and the data
directory is private whatever the umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from data_files import wait_for_cleanup
from deployment import (
    MYCLI,
    LocalDeployment,
    connect,
    error_of,
    exchange,
    headers_of,
    read_response,
    request,
    status_of,
)
from orchestrator.console import SECURITY_HEADERS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.embedded_only("the local server's HTTP handling (API Gateway fronts the twin)"),
]

HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 1.0
SMUGGLED_EMAIL = "smuggled@example.com"


class HardenedDeployment(LocalDeployment):
    """A deployment with short HTTP timeouts, started under umask 000."""

    @property
    def env(self) -> dict[str, str]:
        return {
            **super().env,
            "MYCLI_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "MYCLI_HTTP_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
            "MYCLI_HTTP_BODY_TIMEOUT": "2",
        }

    def up(self, *extra: str) -> None:
        command = [MYCLI, "local", "up", "--background", "--port", "0", "--kill-grace", "1"]
        result = subprocess.run(
            ["sh", "-c", 'umask 000 && exec "$@"', "sh", *command, *extra],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        self.up_stderr = result.stderr


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HardenedDeployment]:
    local = HardenedDeployment(tmp_path_factory.mktemp("hardened"))
    local.up()
    yield local
    local.down()


def smuggled_user_request(admin_key: str) -> bytes:
    body = json.dumps({"email": SMUGGLED_EMAIL, "role": "user"}).encode()
    return (
        b"POST /users HTTP/1.1\r\nHost: x\r\nX-API-Key: " + admin_key.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def user_emails(deployment: LocalDeployment) -> list[str]:
    status, body = deployment.api("GET", "/users", deployment.admin_key)
    assert status == 200
    return [user["email"] for user in body["items"]]


def test_content_length_with_transfer_encoding_is_refused_and_nothing_is_smuggled(
    hardened: HardenedDeployment,
) -> None:
    smuggled = b"0\r\n\r\n" + smuggled_user_request(hardened.admin_key)
    attack = (
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" % len(smuggled)
    ) + smuggled

    response, closed_after = exchange(hardened, attack)

    assert status_of(response) == 400
    assert error_of(response)["code"] == "bad_request"
    assert response.count(b"HTTP/1.1") == 1 and closed_after < 5
    assert SMUGGLED_EMAIL not in user_emails(hardened)


def test_two_content_lengths_are_refused_and_nothing_is_smuggled(
    hardened: HardenedDeployment,
) -> None:
    smuggled = smuggled_user_request(hardened.admin_key)
    attack = (
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        b"Content-Length: %d\r\n\r\n" % len(smuggled)
    ) + smuggled

    response, closed_after = exchange(hardened, attack)

    assert status_of(response) == 400
    assert response.count(b"HTTP/1.1") == 1 and closed_after < 5
    assert SMUGGLED_EMAIL not in user_emails(hardened)


def test_a_negative_content_length_is_refused_at_once(hardened: HardenedDeployment) -> None:
    response, closed_after = exchange(
        hardened, b"POST /executions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
    )

    assert status_of(response) == 400
    assert closed_after < 1


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    hardened: HardenedDeployment,
) -> None:
    with connect(hardened) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(read_response(connection)) == 200
        answered = time.monotonic()
        connection.settimeout(IDLE_TIMEOUT + 4)

        assert connection.recv(1) == b""  # closed by the server
        idle_for = time.monotonic() - answered

    assert IDLE_TIMEOUT - 0.2 < idle_for < IDLE_TIMEOUT + 2


def test_a_slowloris_sender_is_cut_off_while_others_are_served(
    hardened: HardenedDeployment,
) -> None:
    with connect(hardened) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        cut_off_after = None
        served: list[float] = []
        for n in range(40):
            try:
                slow.sendall(f"X-Slow-{n}: y\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                cut_off_after = time.monotonic() - started
                break
            asked = time.monotonic()
            response, _ = exchange(hardened, request("GET", "/health", "none"))
            served.append(time.monotonic() - asked)
            assert status_of(response) == 200
            slow.settimeout(0.1)
            try:
                if slow.recv(1) == b"":
                    cut_off_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass

    assert cut_off_after is not None and cut_off_after < HEADER_TIMEOUT + 2
    assert served and max(served) < 1


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "FOO"])
def test_methods_the_api_does_not_serve_get_405(hardened: HardenedDeployment, method: str) -> None:
    response, _ = exchange(hardened, request(method, "/executions", hardened.admin_key))

    assert status_of(response) == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_body_that_is_not_utf8_is_400(hardened: HardenedDeployment) -> None:
    response, _ = exchange(
        hardened, request("POST", "/executions", hardened.admin_key, b'{"command": "\xff\xfe"}')
    )

    assert status_of(response) == 400
    assert "UTF-8" in error_of(response)["message"]


def test_json_nested_ten_thousand_deep_is_400(hardened: HardenedDeployment) -> None:
    nested = b'{"command": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    response, _ = exchange(hardened, request("POST", "/executions", hardened.admin_key, nested))

    assert status_of(response) == 400


def test_a_percent_encoded_non_ascii_id_is_decoded_once_and_not_found(
    hardened: HardenedDeployment,
) -> None:
    # 30 characters once decoded, 180 while still encoded (over the id's length limit).
    encoded = "%C3%A9" * 30

    response, _ = exchange(hardened, request("GET", f"/executions/{encoded}", hardened.admin_key))

    assert status_of(response) == 404
    assert "é" * 30 in error_of(response)["message"]


# -- response headers --------------------------------------------------------------------------

CONSOLE_HEADERS = {name.lower(): [value] for name, value in SECURITY_HEADERS.items()}


def raw(method: str, target: str, extra: str = "") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode()


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", "/ui/a/b", 404),
        ("GET", "/ui/executions/a/b", 404),
        ("GET", "/ui/executions/a/b/c/", 404),
        ("GET", "/ui/..%2f", 404),
        ("GET", "/ui/../../etc/passwd", 404),
        ("GET", "/ui/x.js", 404),
        ("GET", "/ui/%E2%80%8B", 404),
        ("GET", "/ui/%ff%00", 404),
        ("GET", "/ui/a;b=c/d", 404),
        ("GET", "/ui/" + "a/" * 5000, 404),
        ("GET", "/ui//", 200),
        ("GET", "/ui/?x=/a/b", 200),
        ("GET", "/ui", 302),
        ("HEAD", "/ui/", 405),
        ("OPTIONS", "/ui/a/b", 405),
        ("TRACE", "/ui/", 405),
        ("POST", "/ui/a/b", 401),
        ("DELETE", "/ui/executions/x", 401),
        ("GET", "/ui/" + "a" * 70_000, 431),
        ("GET", "/ui/ bad request line", 400),
    ],
)
def test_every_response_under_ui_carries_the_console_headers(
    hardened: HardenedDeployment, method: str, target: str, status: int
) -> None:
    response, _ = exchange(hardened, raw(method, target))

    assert status_of(response) == status
    headers = headers_of(response)
    for name, values in CONSOLE_HEADERS.items():
        assert headers.get(name) == values, (name, headers)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (request("GET", "/nope", "mycli_wrong"), 401),
        (raw("GET", "/nope"), 401),
        (raw("GET", "/executions/x"), 401),
        (request("GET", "/executions/x", "mycli_wrong"), 401),
        (raw("PATCH", "/health"), 405),
        (raw("HEAD", "/health"), 405),
        (raw("POST", "/executions", "Content-Length: 2000000\r\n"), 413),
        (raw("POST", "/executions", "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n"), 400),
        (raw("GET", "/" + "x" * 70_000), 431),
        (raw("GET", "/openapi.json"), 200),
        (raw("GET", "/health"), 200),
    ],
)
def test_every_api_response_says_nosniff_once(
    hardened: HardenedDeployment, data: bytes, status: int
) -> None:
    response, _ = exchange(hardened, data)

    assert status_of(response) == status
    assert headers_of(response)["x-content-type-options"] == ["nosniff"]


def test_an_api_error_for_the_key_holder_says_nosniff(hardened: HardenedDeployment) -> None:
    response, _ = exchange(
        hardened, request("POST", "/executions", hardened.admin_key, b'{"command": 1}')
    )

    assert status_of(response) == 400
    assert headers_of(response)["x-content-type-options"] == ["nosniff"]
    assert headers_of(response)["content-type"] == ["application/json"]


def test_the_data_directory_is_private_whatever_the_umask(
    hardened: HardenedDeployment, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "run.sh").write_text("echo from upload\n")
    hardened.mycli("exec", "--upload", str(code), "--", "sh run.sh", check=True)
    data = hardened.home / "data"
    wait_for_cleanup(data)  # the run's directory is removed right after its end

    loose = []
    for directory, subdirectories, files in os.walk(data):
        here = Path(directory)
        if here.parent.name == "work":  # a run's own files keep the modes they came with
            subdirectories.clear()
        for name in subdirectories:
            if stat.S_IMODE((here / name).lstat().st_mode) != 0o700:
                loose.append(here / name)
        for name in files:
            if stat.S_IMODE((here / name).lstat().st_mode) != 0o600:
                loose.append(here / name)

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    names = {path.name for path in data.iterdir()}
    assert {"mycli.db", "mycli.db-wal", "server.log", "server.json", "server.lock"} <= names
    assert any((data / "uploads").iterdir()) and any((data / "logs").iterdir())
    assert loose == []


def test_an_existing_open_data_directory_is_tightened_with_a_notice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "mycli.db").touch()
    (data / "mycli.db").chmod(0o644)
    local = HardenedDeployment(tmp_path)

    local.up()
    try:
        assert "tightened permissions" in local.up_stderr
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "mycli.db").stat().st_mode) == 0o600
    finally:
        local.down()


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_down_stops_the_server_cleanly_with_its_runs_recorded_failed(tmp_path: Path) -> None:
    local = HardenedDeployment(tmp_path)
    local.up()
    started = local.mycli("exec", "-d", "--", "sleep 30", check=True).stdout.strip()
    local.wait_status(started, ("RUNNING",))
    pid = local.server_pid

    local.down()

    deadline = time.monotonic() + 5
    while alive(pid):
        assert time.monotonic() < deadline, "the server process did not exit"
        time.sleep(0.05)
    assert not (tmp_path / "data" / "server.json").exists()
    log = (tmp_path / "data" / "server.log").read_text()
    assert "mycli local server stopped" in log
    local.up()
    try:
        execution = local.execution(started)
        assert (execution["status"], execution["reason"]) == ("FAILED", "server stopped")
    finally:
        local.down()
