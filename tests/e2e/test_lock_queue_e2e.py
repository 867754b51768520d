"""The lock queue and holds with the real `mycli` on both backends (embedded, and the Fargate
twin, where the platform's functions promote queued runs when task events end a run):
waiters start by themselves in arrival order, Ctrl-C and --detach while queued, an expired
wait exits 125, a hold refuses with its reason, and runs queued behind a hold start once it
is released."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
from signals import signal_until_acted_on

from deployment import LocalDeployment

pytestmark = pytest.mark.both_backends
LOCK = "infra-prod"


def detached(deployment: LocalDeployment, *args: str) -> str:
    result = deployment.mycli("exec", "--detach", *args, check=True)
    return result.stdout.strip()


def wait_for_queue(deployment: LocalDeployment, length: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        [lock] = [lock for lock in deployment.locks() if lock["name"] == LOCK] or [{"queue": []}]
        if len(lock["queue"]) == length:
            return list(lock["queue"])
        assert time.monotonic() < deadline, lock
        time.sleep(0.2)


def wait_for_line(process: Any, text: str, timeout: float = 30) -> str:
    """The first stderr line of `process` that holds `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return str(line)
        assert line or process.poll() is None, f"exited {process.returncode} before {text!r}"
    raise AssertionError(f"no {text!r} within {timeout}s")


def test_waiters_start_by_themselves_in_arrival_order(deployment: LocalDeployment) -> None:
    # Given a run holding the lock (until it is cancelled: a busy machine must not free the
    # lock before both waiters are in line) and two runs that wait for it, each followed
    holder = detached(deployment, "--lock", LOCK, "--", "sleep 300")
    first = deployment.spawn("exec", "--lock", LOCK, "--wait-lock", "2m", "--", "echo first")
    first_line = wait_for_line(first, "queued for")
    wait_for_queue(deployment, 1)
    second = deployment.spawn("exec", "--lock", LOCK, "--wait-lock", "2m", "--", "echo second")
    second_line = wait_for_line(second, "queued for")
    # Then each CLI showed its place and the holder
    assert f"queued for '{LOCK}': 1st in line, behind" in first_line
    assert holder[:8] in first_line
    assert f"queued for '{LOCK}': 2nd in line" in second_line
    # When the holder ends, each runs once, in arrival order, and its CLI exits with its code
    deployment.mycli("cancel", holder, check=True)
    assert first.wait(60) == 0 and first.stdout.read() == "first\n"
    assert second.wait(60) == 0 and second.stdout.read() == "second\n"
    runs = json.loads(deployment.mycli("list", "-o", "json", check=True).stdout)["items"]
    waiters = sorted(
        (run for run in runs if run["lock_wait_until"]), key=lambda run: run["dequeued_at"]
    )
    assert [run["command"] for run in waiters] == ["echo first", "echo second"]
    assert deployment.execution(holder)["status"] == "CANCELLED"
    assert deployment.locks() == []


def test_ctrl_c_while_queued_takes_the_run_out_of_the_queue(deployment: LocalDeployment) -> None:
    holder = detached(deployment, "--lock", LOCK, "--", "sleep 30")
    waiter = deployment.spawn("exec", "--lock", LOCK, "--wait-lock", "5m", "--", "echo no")
    wait_for_line(waiter, "queued for")
    [entry] = wait_for_queue(deployment, 1)

    signal_until_acted_on(waiter, signal.SIGINT)

    assert waiter.wait(30) == 130
    assert waiter.stdout.read() == ""
    assert deployment.execution(entry["execution_id"])["status"] == "CANCELLED"
    assert wait_for_queue(deployment, 0) == []
    deployment.mycli("cancel", holder, check=True)


def test_detach_while_queued_starts_when_its_turn_comes(deployment: LocalDeployment) -> None:
    holder = detached(deployment, "--lock", LOCK, "--", "sleep 300")

    result = deployment.mycli("exec", "-d", "--lock", LOCK, "--wait-lock", "2m", "--", "echo hi")

    assert result.returncode == 0, result.stderr
    assert "it starts when its turn comes" in result.stderr
    waiter = result.stdout.strip()
    assert deployment.execution(waiter)["status"] == "QUEUED"
    deployment.mycli("cancel", holder, check=True)
    ended = deployment.wait_status(waiter, ("SUCCEEDED", "FAILED", "CANCELLED"), timeout=60)
    assert (ended["status"], ended["exit_code"]) == ("SUCCEEDED", 0)
    assert deployment.mycli("logs", waiter, check=True).stdout == "hi\n"


def test_a_wait_that_expires_exits_125_with_the_reason(deployment: LocalDeployment) -> None:
    holder = detached(deployment, "--lock", LOCK, "--", "sleep 60")

    result = deployment.mycli(
        "exec", "--lock", LOCK, "--wait-lock", "2s", "--", "echo never", timeout=90
    )

    assert result.returncode == 125, result.stderr
    assert "lock wait expired after 2s" in result.stderr
    assert result.stdout == ""
    deployment.mycli("cancel", holder, check=True)


def test_a_hold_refuses_with_its_reason_then_queued_runs_start_once_released(
    deployment: LocalDeployment,
) -> None:
    # Given a hold taken by a user with a reason
    user = deployment.add_user("oncall@example.com")
    held = deployment.mycli(
        "locks", "hold", LOCK, "--reason", "incident 42", "--for", "1h", key=user
    )
    assert held.returncode == 0, held.stderr
    # Then a run without a wait is refused, naming the hold and its reason
    refused = deployment.mycli("exec", "--lock", LOCK, "--", "true")
    assert refused.returncode == 125
    assert '"incident 42"' in refused.stderr and "oncall@example.com" in refused.stderr
    # And a run with a wait queues behind the hold
    waiter = detached(deployment, "--lock", LOCK, "--wait-lock", "5m", "--", "echo after")
    assert deployment.execution(waiter)["status"] == "QUEUED"
    [lock] = deployment.locks()
    assert lock["holder"]["kind"] == "hold" and lock["holder"]["reason"] == "incident 42"
    # When its holder releases the hold, the queued run starts
    deployment.mycli("locks", "release", LOCK, key=user, check=True)
    ended = deployment.wait_status(waiter, ("SUCCEEDED", "FAILED"), timeout=60)
    assert ended["status"] == "SUCCEEDED"
    history = json.loads(deployment.mycli("locks", "history", LOCK, "-o", "json").stdout)
    assert [event["action"] for event in history["items"]][:2] == ["release", "hold"]


@pytest.mark.embedded_only(
    "the local server's restart recovery; on AWS no server process holds runs (a lost task's "
    "end is the reaper's, tests/contract/test_queued_runs.py and the twin's fault cases)"
)
def test_a_server_killed_under_a_holder_restarts_and_starts_the_queued_run(
    deployment: LocalDeployment,
) -> None:
    # Given a run holding the lock and a run queued behind it with an env value
    holder = detached(deployment, "--lock", LOCK, "--", "sleep 300")
    deployment.wait_status(holder, ("RUNNING",))
    waiter = detached(
        deployment, "--lock", LOCK, "--wait-lock", "5m", "-e", "KEPT=sealed", "--", 'echo "$KEPT"'
    )
    assert deployment.execution(waiter)["status"] == "QUEUED"
    # When the server dies and comes back
    os.kill(deployment.server_pid, signal.SIGKILL)
    time.sleep(0.2)
    deployment.up()
    # Then the holder failed "server restarted", and the queued run got the lock and ran
    assert deployment.execution(holder)["reason"] == "server restarted"
    ended = deployment.wait_status(waiter, ("SUCCEEDED", "FAILED"), timeout=30)
    assert ended["status"] == "SUCCEEDED", ended
    assert deployment.mycli("logs", waiter, check=True).stdout == "sealed\n"
