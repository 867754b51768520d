"""Every row of the exit-code table (docs/using.md), against a real `mycli local up`, plus what a
script relies on around it: signals cancel the run, a follower survives a server restart,
a retried create runs once, odd ids are "not found", stdin is forwarded only with -i."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from signals import signal_until_acted_on

from deployment import MYCLI, TERMINAL, LocalDeployment
from mycli.config import ConfigFile

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]


def follow_until_started(deployment: LocalDeployment, *args: str) -> subprocess.Popen[str]:
    """`mycli exec ARGS` as a process, once its command has printed its first line."""
    process = deployment.spawn("exec", *args)
    assert process.stdout is not None
    assert process.stdout.readline() == "started\n"
    return process


def only_execution(deployment: LocalDeployment) -> dict[str, Any]:
    [execution] = json.loads(deployment.mycli("list", "-o", "json", check=True).stdout)["items"]
    return execution  # type: ignore[no-any-return]


# -- 0-255, 124, 125 ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_the_remote_code_is_the_exit_code(deployment: LocalDeployment, code: int) -> None:
    assert deployment.mycli("exec", "--", f"exit {code}").returncode == code


def test_a_timeout_is_124(deployment: LocalDeployment) -> None:
    result = deployment.mycli("exec", "--timeout", "1", "--", "sleep 10")

    assert result.returncode == 124
    assert "TIMED_OUT" in result.stderr


def test_a_held_lock_is_125(deployment: LocalDeployment) -> None:
    holder = deployment.mycli("exec", "-d", "--lock", "db", "--", "sleep 30", check=True)

    result = deployment.mycli("exec", "--lock", "db", "--", "true")

    assert result.returncode == 125
    assert f"execution {holder.stdout.strip()}" in result.stderr
    deployment.mycli("cancel", holder.stdout.strip(), check=True)


def test_a_command_that_fails_to_start_is_125(deployment: LocalDeployment, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "escape").symlink_to("/etc/hostname")

    result = deployment.mycli("exec", "--upload", str(source), "--", "cat escape")

    assert result.returncode == 125
    assert "FAILED: upload refused: link points outside the directory" in result.stderr


@pytest.mark.embedded_only(
    "the local server's restart (runs it left FAILED 'server stopped'/'server restarted'); "
    "on AWS no server process holds runs, and the twin's state lives in moto's memory"
)
@pytest.mark.parametrize(
    ("stop", "reason"),
    [("down", "server stopped"), ("kill", "server restarted")],
)
def test_a_server_restart_while_following_is_survived_and_ends_125(
    deployment: LocalDeployment, stop: str, reason: str
) -> None:
    port = deployment.url.rsplit(":", 1)[1]
    process = follow_until_started(deployment, "--", "echo started; sleep 60")
    execution_id = only_execution(deployment)["execution_id"]

    if stop == "down":
        deployment.down()
    else:
        os.kill(deployment.server_pid, signal.SIGKILL)
    deployment.mycli("local", "up", "--background", "--port", port, "--kill-grace", "1", check=True)
    _, errors = process.communicate(timeout=90)

    assert process.returncode == 125, errors
    assert errors.count("mycli: connection lost, retrying…") == 1
    assert f"execution {execution_id} FAILED: {reason}" in errors
    assert deployment.execution(execution_id)["reason"] == reason


def test_a_connection_lost_for_good_is_125_naming_the_execution(
    deployment: LocalDeployment,
) -> None:
    env = {**deployment.env, "MYCLI_RETRY_SECONDS": "2"}
    process = subprocess.Popen(
        [MYCLI, "exec", "--", "echo started; sleep 3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "started\n"
    execution_id = only_execution(deployment)["execution_id"]

    os.kill(deployment.server_pid, signal.SIGKILL)
    _, errors = process.communicate(timeout=30)

    assert process.returncode == 125
    assert f"following execution {execution_id}" in errors
    assert f"`mycli logs -f {execution_id}`" in errors


# -- 130, 143, 129 -----------------------------------------------------------------------------


def test_ctrl_c_while_queued_for_a_lock_cancels_the_run_130(deployment: LocalDeployment) -> None:
    holder = deployment.mycli("exec", "-d", "--lock", "db", "--", "sleep 30", check=True)
    process = deployment.spawn("exec", "--lock", "db", "--wait-lock", "60", "--", "true")
    assert process.stderr is not None
    assert process.stderr.readline().startswith("mycli: queued for 'db': 1st in line, behind ")

    signal_until_acted_on(process, signal.SIGINT)
    _, errors = process.communicate(timeout=10)

    assert process.returncode == 130
    assert "Aborted" not in errors
    assert "Traceback" not in errors
    waiter = errors.split("mycli: cancelled ", 1)[1].split(";")[0]
    assert deployment.execution(waiter)["status"] == "CANCELLED"
    assert deployment.execution(holder.stdout.strip())["status"] == "RUNNING"
    deployment.mycli("cancel", holder.stdout.strip(), check=True)


def test_ctrl_c_in_logs_follow_is_130_quietly(deployment: LocalDeployment) -> None:
    execution_id = deployment.mycli(
        "exec", "-d", "--", "echo started; sleep 30", check=True
    ).stdout.strip()
    process = deployment.spawn("logs", "-f", execution_id)
    assert process.stdout is not None
    assert process.stdout.readline() == "started\n"

    signal_until_acted_on(process, signal.SIGINT)
    _, errors = process.communicate(timeout=10)

    assert (process.returncode, errors) == (130, "")
    assert deployment.execution(execution_id)["status"] == "RUNNING", "logs -f cancels nothing"
    deployment.mycli("cancel", execution_id, check=True)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_cancel_the_run_and_free_its_lock(
    deployment: LocalDeployment, signum: int, code: int
) -> None:
    process = follow_until_started(deployment, "--lock", "db", "--", "echo started; sleep 30")

    early = signal_until_acted_on(process, signum, "cancelling")
    _, errors = process.communicate(timeout=30)
    errors = early + errors

    assert process.returncode == code, errors
    assert "cancelling" in errors
    execution = only_execution(deployment)
    assert (execution["status"], execution["cancelled_by"]) == ("CANCELLED", deployment.admin_email)
    assert deployment.locks() == []


def test_a_reader_that_goes_away_cancels_the_run_and_frees_its_lock(
    deployment: LocalDeployment,
) -> None:
    # Given `mycli exec` piped into a reader that stops after one line
    pipeline = f"'{MYCLI}' exec --lock feed -- yes | head -1; exit ${{PIPESTATUS[0]}}"

    # When the reader exits while the command still writes
    result = subprocess.run(
        ["bash", "-c", pipeline],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then mycli ends like a local command would on SIGPIPE, and nothing runs on
    assert (result.returncode, result.stdout) == (141, "y\n"), result.stderr
    assert "Traceback" not in result.stderr
    execution = only_execution(deployment)
    assert execution["status"] == "CANCELLED"
    assert deployment.locks() == []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_while_queued_for_a_lock_cancels_the_queued_run(
    deployment: LocalDeployment, signum: int, code: int
) -> None:
    holder = deployment.mycli("exec", "-d", "--lock", "db", "--", "sleep 30", check=True)
    process = deployment.spawn("exec", "--lock", "db", "--wait-lock", "60", "--", "true")
    assert process.stderr is not None
    assert process.stderr.readline().startswith("mycli: queued for 'db'")

    signal_until_acted_on(process, signum)
    _, errors = process.communicate(timeout=10)

    assert process.returncode == code
    waiter = errors.split("mycli: cancelled ", 1)[1].split(";")[0]
    assert deployment.execution(waiter)["status"] == "CANCELLED"
    assert deployment.execution(holder.stdout.strip())["status"] == "RUNNING"
    deployment.mycli("cancel", holder.stdout.strip(), check=True)


# -- 2, 3, 4, 5 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("exec", "--", ""),
        ("exec", "--lock", "has space", "--", "true"),
        ("exec", "--lock", "", "--", "true"),
        ("exec", "--wait-lock", "5", "--", "true"),
        ("exec", "--timeout", "0", "--", "true"),
        ("exec", "--", "x" * 20000),
        ("exec", "-e", f"BIG={'v' * 9000}", "--", "true"),  # caught by the server
        ("list", "--limit", "0"),
    ],
)
def test_bad_input_is_2_before_anything_runs(
    deployment: LocalDeployment, args: tuple[str, ...]
) -> None:
    result = deployment.mycli(*args)

    assert result.returncode == 2, result.stderr
    assert "^[" not in result.stderr and "Traceback" not in result.stderr
    assert json.loads(deployment.mycli("list", "-o", "json").stdout)["items"] == []


def test_a_missing_invalid_or_revoked_key_or_not_allowed_is_3(
    deployment: LocalDeployment,
) -> None:
    user_key = deployment.add_user("dana@example.com")
    deployment.mycli("admin", "revoke-user", "dana@example.com", check=True)
    other_key = deployment.add_user("erin@example.com")
    config = ConfigFile.load(deployment.home / "config" / "mycli" / "config.toml")
    config.set_profile("keyless", make_current=False, api_url=deployment.url)
    config.save(deployment.home / "config" / "mycli" / "config.toml")

    assert deployment.mycli("--profile", "keyless", "whoami").returncode == 3
    assert deployment.mycli("whoami", key="mycli_wrong").returncode == 3
    assert deployment.mycli("exec", "--", "true", key=user_key).returncode == 3
    assert deployment.mycli("admin", "list-users", key=other_key).returncode == 3


@pytest.mark.parametrize(
    "args",
    [
        ("status", "does-not-exist"),
        ("status", "a b"),
        ("status", "?limit=1"),
        ("status", "../../x"),
        ("cancel", "../x"),
        ("logs", "../../x"),
    ],
)
def test_not_found_is_4_and_odd_ids_reach_no_other_route(
    deployment: LocalDeployment, args: tuple[str, ...]
) -> None:
    deployment.mycli("exec", "--", "echo hi", check=True)

    result = deployment.mycli(*args)

    assert result.returncode == 4, result
    assert result.stdout == ""


def test_a_conflict_is_5(deployment: LocalDeployment) -> None:
    deployment.add_user("fay@example.com")

    assert deployment.mycli("admin", "add-user", "fay@example.com").returncode == 5


# -- idempotent create -------------------------------------------------------------------------


def test_the_same_idempotency_key_posted_twice_yields_one_execution(
    deployment: LocalDeployment,
) -> None:
    key = str(uuid.uuid4())

    def create() -> dict[str, Any]:
        request = urllib.request.Request(
            deployment.url + "/executions",
            method="POST",
            data=json.dumps({"command": "echo once", "lock": "db"}).encode(),
            headers={
                "X-API-Key": deployment.admin_key,
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    first = create()
    deployment.wait_status(first["execution_id"], TERMINAL)
    again = create()

    assert again["execution_id"] == first["execution_id"]
    assert again["status"] == "SUCCEEDED"
    assert only_execution(deployment)["execution_id"] == first["execution_id"]
    assert deployment.mycli("logs", first["execution_id"], check=True).stdout == "once\n"


def test_the_same_idempotency_key_with_another_body_is_422_and_runs_nothing(
    deployment: LocalDeployment,
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = deployment.api(
        "POST", "/executions", deployment.admin_key, {"command": "echo once"}, key
    )

    status, refused = deployment.api(
        "POST", "/executions", deployment.admin_key, {"command": "echo twice"}, key
    )
    again = deployment.api(
        "POST", "/executions", deployment.admin_key, {"command": "echo once"}, key
    )

    assert (first[0], status, again[0]) == (202, 422, 202), refused
    assert refused["error"]["code"] == "idempotency_key_reused"
    assert refused["error"]["details"]["execution_id"] == first[1]["execution_id"]
    assert again[1]["execution_id"] == first[1]["execution_id"]
    assert only_execution(deployment)["execution_id"] == first[1]["execution_id"]


# -- stdin -------------------------------------------------------------------------------------


def test_stdin_is_forwarded_with_dash_i(deployment: LocalDeployment) -> None:
    result = subprocess.run(
        [MYCLI, "exec", "-i", "--", "cat"],
        input="hi\n",
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr


def test_piped_stdin_without_dash_i_is_said_once_not_forwarded(
    deployment: LocalDeployment,
) -> None:
    result = subprocess.run(
        [MYCLI, "exec", "--", "cat"],
        input="hi\n",
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    quiet = subprocess.run(
        [MYCLI, "exec", "--", "true"],
        stdin=subprocess.DEVNULL,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.count("mycli: stdin is not forwarded (use -i)") == 1
    assert "stdin" not in quiet.stderr
