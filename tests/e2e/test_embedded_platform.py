"""The platform as a user meets it: `mycli local up` (or the twin), then `mycli` commands;
what only the local server has (its first start, restart, bind address) is embedded-only."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from signals import signal_until_acted_on

from deployment import TERMINAL, LocalDeployment

pytestmark = pytest.mark.e2e


@pytest.mark.both_backends
def test_output_streams_while_the_command_runs_and_the_exit_code_is_mirrored(
    deployment: LocalDeployment,
) -> None:
    process = deployment.spawn("exec", "--", "echo first; sleep 2; echo second; exit 7")
    assert process.stdout is not None

    first_line = process.stdout.readline()
    first_seen = time.monotonic()
    rest, errors = process.communicate(timeout=30)
    ended = time.monotonic()

    assert first_line == "first\n"
    # (however long the run took to start) the first line came while the command slept
    assert ended - first_seen > 1.2, "the first line should arrive before the command ends"
    assert rest == "second\n"
    assert process.returncode == 7
    assert "FAILED: exited with code 7" in errors


@pytest.mark.embedded_only("`mycli local up`'s own first start; the twin's is tests/twin's")
def test_the_first_start_prints_the_admin_key_once_and_writes_a_private_profile(
    tmp_path: Path,
) -> None:
    local = LocalDeployment(tmp_path)
    first = local.mycli("local", "up", "--background", "--port", "0", check=True)
    try:
        again = local.mycli("local", "up", "--background", "--port", "0", check=True)
        config = tmp_path / "config" / "mycli" / "config.toml"

        assert local.admin_key in first.stdout
        assert local.admin_key not in again.stdout + again.stderr
        assert "already running" in again.stderr
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        assert local.mycli("whoami", check=True).stdout.startswith("admin@localhost (admin)")
        log = (tmp_path / "data" / "server.log").read_text()
        assert local.admin_key not in log
    finally:
        local.down()
    assert local.mycli("local", "status").returncode == 1


@pytest.mark.both_backends
def test_a_held_lock_names_the_holder(deployment: LocalDeployment) -> None:
    alice = deployment.add_user("alice@example.com")
    holder = deployment.mycli(
        "exec", "-d", "--lock", "infra-prod", "--", "sleep 30", key=alice, check=True
    )
    holder_id = holder.stdout.strip()
    deployment.wait_status(holder_id, ("RUNNING",))

    refused = deployment.mycli("exec", "--lock", "infra-prod", "--", "true")

    assert refused.returncode == 125
    assert refused.stderr.strip().splitlines() == [
        refused.stderr.strip(),
    ]
    assert f"held by alice@example.com (execution {holder_id}, RUNNING since 20" in refused.stderr
    assert refused.stderr.rstrip().endswith("; to wait for it: --wait-lock DURATION (e.g. 10m)")
    deployment.mycli("cancel", holder_id, check=True)


@pytest.mark.parametrize(
    ("command", "extra", "status", "code"),
    [
        ("echo ok", (), "SUCCEEDED", 0),
        ("exit 3", (), "FAILED", 3),
        ("sleep 30", ("--timeout", "1"), "TIMED_OUT", 124),
    ],
)
@pytest.mark.both_backends
def test_the_lock_is_freed_when_the_command_ends(
    deployment: LocalDeployment, command: str, extra: tuple[str, ...], status: str, code: int
) -> None:
    result = deployment.mycli("exec", "--lock", "shared", *extra, "--", command)

    assert result.returncode == code
    assert status in result.stderr
    assert deployment.locks() == []
    assert deployment.mycli("exec", "--lock", "shared", "--", "true").returncode == 0


@pytest.mark.both_backends
def test_ctrl_c_cancels_the_execution_and_frees_the_lock(deployment: LocalDeployment) -> None:
    process = deployment.spawn("exec", "--lock", "shared", "--", "echo started; sleep 30")
    assert process.stdout is not None
    assert process.stdout.readline() == "started\n"

    early = signal_until_acted_on(process, signal.SIGINT, "cancelling")
    _, errors = process.communicate(timeout=30)
    errors = early + errors

    assert process.returncode == 130
    assert "cancelling" in errors
    [execution] = json.loads(deployment.mycli("list", "-o", "json", check=True).stdout)["items"]
    assert (execution["status"], execution["cancelled_by"]) == ("CANCELLED", deployment.admin_email)
    assert deployment.locks() == []


@pytest.mark.both_backends
def test_mycli_cancel_frees_the_lock_of_a_detached_execution(deployment: LocalDeployment) -> None:
    execution_id = deployment.mycli(
        "exec", "-d", "--lock", "shared", "--", "trap '' TERM; sleep 30", check=True
    ).stdout.strip()
    deployment.wait_status(execution_id, ("RUNNING",))

    deployment.mycli("cancel", execution_id, check=True)
    cancelled = deployment.wait_status(execution_id, TERMINAL)

    assert cancelled["status"] == "CANCELLED"
    assert deployment.locks() == []


def test_fifty_concurrent_requests_on_one_lock_admit_exactly_one(
    deployment: LocalDeployment,
) -> None:
    url = urlsplit(deployment.url)
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    codes: list[str] = []

    def post() -> None:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        connection.connect()
        barrier.wait()
        connection.request(
            "POST",
            url.path + "/executions",  # the twin's URL has API Gateway's stage in its path
            body=json.dumps({"command": "sleep 5", "lock": "race"}),
            headers={"X-API-Key": deployment.admin_key, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        body = json.loads(response.read())
        statuses.append(response.status)
        if response.status != 202:
            codes.append(body["error"]["code"])
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [202] + [409] * 49
    assert set(codes) == {"lock_held"}
    listed = json.loads(deployment.mycli("list", "--limit", "100", "-o", "json", check=True).stdout)
    assert len(listed["items"]) == 1
    deployment.mycli("cancel", listed["items"][0]["execution_id"], check=True)


def test_a_revoked_key_is_refused_on_its_very_next_request(deployment: LocalDeployment) -> None:
    key = deployment.add_user("leaver@example.com")
    assert deployment.mycli("whoami", key=key).returncode == 0

    deployment.mycli("admin", "revoke-user", "leaver@example.com", check=True)
    refused = deployment.mycli("whoami", key=key)

    assert refused.returncode == 3
    assert refused.stderr == "mycli: error: invalid or revoked API key\n"
    assert deployment.mycli("exec", "--", "true", key=key).returncode == 3


def test_users_cannot_see_or_cancel_each_others_executions_but_an_admin_can(
    deployment: LocalDeployment,
) -> None:
    alice = deployment.add_user("alice@example.com")
    bob = deployment.add_user("bob@example.com")
    execution_id = deployment.mycli(
        "exec", "-d", "--", "sleep 30", key=alice, check=True
    ).stdout.strip()

    assert deployment.mycli("status", execution_id, key=bob).returncode == 4
    assert deployment.mycli("logs", execution_id, key=bob).returncode == 4
    assert deployment.mycli("cancel", execution_id, key=bob).returncode == 4
    bobs_list = json.loads(deployment.mycli("list", "-o", "json", key=bob, check=True).stdout)
    assert bobs_list["items"] == []
    assert deployment.mycli("list", "--user", "alice@example.com", key=bob).returncode == 3

    assert deployment.execution(execution_id)["user_email"] == "alice@example.com"
    deployment.mycli("cancel", execution_id, check=True)
    assert deployment.wait_status(execution_id, TERMINAL)["status"] == "CANCELLED"


@pytest.mark.embedded_only(
    "the local server's restart recovery (runs it left FAILED 'server restarted'); on AWS "
    "no server process holds runs, and the twin's state lives in its moto server's memory"
)
def test_a_server_killed_during_a_run_restarts_with_the_run_failed_and_its_lock_free(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    earlier = deployment.mycli("exec", "-d", "--", "echo earlier", check=True).stdout.strip()
    earlier_record = deployment.wait_status(earlier, TERMINAL)
    pid_file = tmp_path / "orphan.pid"
    running = deployment.mycli(
        "exec", "-d", "--lock", "prod", "--", f"echo $$ > {pid_file}; sleep 60", check=True
    ).stdout.strip()
    deployment.wait_status(running, ("RUNNING",))
    while not pid_file.exists() or not pid_file.read_text().strip():
        time.sleep(0.02)
    orphan = int(pid_file.read_text())

    os.kill(deployment.server_pid, signal.SIGKILL)
    time.sleep(0.2)
    deployment.up()

    failed = deployment.execution(running)
    assert (failed["status"], failed["reason"]) == ("FAILED", "server restarted")
    assert deployment.locks() == []
    assert deployment.execution(earlier) == earlier_record
    logs = deployment.mycli("logs", earlier, check=True)
    assert logs.stdout == "earlier\n"
    deadline = time.monotonic() + 5
    while Path(f"/proc/{orphan}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{orphan}").exists(), "the dead server's command kept running"
    assert deployment.mycli("exec", "--lock", "prod", "--", "true").returncode == 0


@pytest.mark.both_backends
def test_no_key_or_env_value_reaches_the_data_directory_in_plaintext(
    deployment: LocalDeployment,
) -> None:
    user_key = deployment.add_user("carol@example.com")
    deployment.mycli(
        "exec", "-e", "DEPLOY_TOKEN=tok-4f9a1c7e", "--", "true", key=user_key, check=True
    )
    deployment.mycli("whoami", key=user_key, check=True)

    secrets = (b"tok-4f9a1c7e", user_key.encode(), deployment.admin_key.encode())
    stored = deployment.stored_data()
    assert [secret for secret in secrets if secret in stored] == []


@pytest.mark.embedded_only("`mycli local up --host`: the local server's bind address")
def test_another_bind_address_needs_host_and_is_warned_about(tmp_path: Path) -> None:
    local = LocalDeployment(tmp_path)
    started = local.mycli(
        "local", "up", "--background", "--port", "0", "--host", "127.0.0.2", check=True
    )
    try:
        assert "warning: binding 127.0.0.2" in started.stderr
        assert local.url.startswith("http://127.0.0.2:")
        assert local.mycli("whoami", check=True).stdout.startswith("admin@localhost")
    finally:
        local.down()
